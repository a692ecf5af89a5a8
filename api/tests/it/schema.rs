//! The exported schema: `schema.graphql` matches the code, and the public contract
//! (../shared/contract/schema.graphql) is all there, in the same shapes, but for the items of
//! an explicit list of what is not built yet, which may only shrink.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use async_graphql_parser::types::{TypeKind, TypeSystemDefinition};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn the_committed_schema_matches_the_code() {
    let path = repo_root().join("schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = api::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

/// What a schema says about one type, flattened to comparable strings.
#[derive(Debug, Default)]
struct TypeShape {
    kind: &'static str,
    /// field or input field → type; for object fields also "field(arg)" → type
    members: BTreeMap<String, String>,
    /// members that are required for callers (non-null input without default)
    required_inputs: BTreeSet<String>,
    implements: BTreeSet<String>,
}

fn shapes(sdl: &str) -> BTreeMap<String, TypeShape> {
    let doc = async_graphql_parser::parse_schema(sdl).expect("SDL parses");
    let mut out = BTreeMap::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = ty.node;
        let mut shape = TypeShape::default();
        let add_field =
            |shape: &mut TypeShape, field: &async_graphql_parser::types::FieldDefinition| {
                let name = field.name.node.to_string();
                shape
                    .members
                    .insert(name.clone(), field.ty.node.to_string());
                for arg in &field.arguments {
                    let key = format!("{name}({})", arg.node.name.node);
                    shape
                        .members
                        .insert(key.clone(), arg.node.ty.node.to_string());
                    if !arg.node.ty.node.nullable && arg.node.default_value.is_none() {
                        shape.required_inputs.insert(key);
                    }
                }
            };
        match &ty.kind {
            TypeKind::Scalar => shape.kind = "scalar",
            TypeKind::Object(object) => {
                shape.kind = "type";
                shape.implements = object
                    .implements
                    .iter()
                    .map(|i| i.node.to_string())
                    .collect();
                for field in &object.fields {
                    add_field(&mut shape, &field.node);
                }
            }
            TypeKind::Interface(interface) => {
                shape.kind = "interface";
                shape.implements = interface
                    .implements
                    .iter()
                    .map(|i| i.node.to_string())
                    .collect();
                for field in &interface.fields {
                    add_field(&mut shape, &field.node);
                }
            }
            TypeKind::Union(union) => {
                shape.kind = "union";
                for member in &union.members {
                    shape.members.insert(member.node.to_string(), String::new());
                }
            }
            TypeKind::Enum(e) => {
                shape.kind = "enum";
                for value in &e.values {
                    shape
                        .members
                        .insert(value.node.value.node.to_string(), String::new());
                }
            }
            TypeKind::InputObject(input) => {
                shape.kind = "input";
                for field in &input.fields {
                    let name = field.node.name.node.to_string();
                    shape
                        .members
                        .insert(name.clone(), field.node.ty.node.to_string());
                    if !field.node.ty.node.nullable && field.node.default_value.is_none() {
                        shape.required_inputs.insert(name);
                    }
                }
            }
        }
        out.insert(ty.name.node.to_string(), shape);
    }
    out
}

/// Contract items the server does not have yet. The check fails on any other missing item,
/// and on an item of this list that is now built (take it off): the list may only shrink.
const NOT_BUILT_YET: &[&str] = &[
    // every item of the contract is built; anything added here must come with its issue
];

/// What comparing the exported schema with the contract found.
#[derive(Debug, Default)]
struct ContractReport {
    /// contract items absent from the exported schema
    missing: Vec<String>,
    /// contract items present with another shape
    broken: Vec<String>,
}

fn compare(contract_sdl: &str, exported_sdl: &str) -> ContractReport {
    let contract = shapes(contract_sdl);
    let exported = shapes(exported_sdl);
    let mut report = ContractReport::default();
    let (missing, broken) = (&mut report.missing, &mut report.broken);
    for (name, want) in &contract {
        let Some(have) = exported.get(name) else {
            missing.push(format!("{} {name}", want.kind));
            continue;
        };
        if have.kind != want.kind {
            broken.push(format!(
                "{name}: a {} in the contract, a {} here",
                want.kind, have.kind
            ));
            continue;
        }
        for (member, ty) in &want.members {
            match have.members.get(member) {
                None => missing.push(format!("{name}.{member}")),
                Some(got) if got != ty => {
                    broken.push(format!("{name}.{member}: {ty} in the contract, {got} here"))
                }
                Some(_) => {}
            }
        }
        for iface in want.implements.difference(&have.implements) {
            if exported.contains_key(iface) {
                broken.push(format!("{name} does not implement {iface}"));
            } else {
                missing.push(format!("{name} implements {iface}"));
            }
        }
        // Something a caller must now send that the contract did not ask for breaks callers.
        for required in have.required_inputs.difference(&want.required_inputs) {
            let field_known = required
                .split('(')
                .next()
                .is_some_and(|field| want.members.contains_key(field));
            if want.kind == "input" || field_known {
                broken.push(format!(
                    "{name}.{required} is required here but not in the contract"
                ));
            }
        }
    }
    report
}

/// The verdict on a report: every missing item must be on the list, every listed item missing.
fn verdict(report: &ContractReport, not_built: &[&str]) -> Result<(), String> {
    let mut faults = report.broken.clone();
    for item in &report.missing {
        if !not_built.contains(&item.as_str()) {
            faults.push(format!("{item} is missing from the exported schema"));
        }
    }
    for item in not_built {
        if !report.missing.iter().any(|m| m == item) {
            faults.push(format!(
                "{item} is built now: take it off NOT_BUILT_YET (the list only shrinks)"
            ));
        }
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(faults.join("\n"))
    }
}

fn contract_sdl() -> String {
    let contract_path = std::env::var("CONTRACT_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/contract/schema.graphql"));
    std::fs::read_to_string(&contract_path).unwrap_or_else(|e| {
        panic!(
            "the contract is read from {} (set CONTRACT_SCHEMA to move it): {e}",
            contract_path.display()
        )
    })
}

#[test]
fn the_exported_schema_breaks_nothing_of_the_contract() {
    let report = compare(&contract_sdl(), &api::graphql::sdl());
    println!(
        "contract items still missing from the exported schema ({}):",
        report.missing.len()
    );
    for item in &report.missing {
        println!("  - {item}");
    }
    if let Err(faults) = verdict(&report, NOT_BUILT_YET) {
        panic!("the exported schema against the contract:\n{faults}");
    }
}

#[test]
fn the_contract_check_fails_when_a_built_field_or_type_goes_missing() {
    let contract = contract_sdl();
    let sdl = api::graphql::sdl();
    // A built field removed from the exported schema.
    let without_field = sdl.replacen("\tlistings(", "\tremovedListings(", 1);
    assert_ne!(without_field, sdl, "Query.listings is in the SDL to remove");
    let report = compare(&contract, &without_field);
    let faults = verdict(&report, NOT_BUILT_YET).expect_err("a removed field is refused");
    assert!(faults.contains("listings is missing"), "{faults}");
    // A built type's field with another type.
    let retyped = sdl.replacen("\ttotalCount: Int!", "\ttotalCount: String!", 1);
    assert_ne!(retyped, sdl);
    assert!(verdict(&compare(&contract, &retyped), NOT_BUILT_YET).is_err());
    // An item still listed once it is built.
    let mut longer = NOT_BUILT_YET.to_vec();
    longer.push("Query.listings");
    let faults = verdict(&compare(&contract, &sdl), &longer).expect_err("a built item listed");
    assert!(faults.contains("Query.listings is built now"), "{faults}");
}
