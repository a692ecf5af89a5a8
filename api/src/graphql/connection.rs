//! Relay connections over [`crate::pagination::Page`]: `edges`, `nodes`, `pageInfo`,
//! `totalCount`. `connection!` declares the concrete types of one node type; the assembly is
//! shared in [`assemble`].
use async_graphql::SimpleObject;

use crate::pagination::Page;

#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// The parts of a connection: (cursor, node) pairs, page info and the total.
pub fn assemble<R, T>(
    page: Page<R>,
    cursor: impl Fn(&R) -> String,
    node: impl Fn(R) -> T,
) -> (Vec<(String, T)>, PageInfo, i32) {
    let edges: Vec<(String, T)> = page
        .items
        .into_iter()
        .map(|row| (cursor(&row), node(row)))
        .collect();
    let info = PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start_cursor: edges.first().map(|(c, _)| c.clone()),
        end_cursor: edges.last().map(|(c, _)| c.clone()),
    };
    (
        edges,
        info,
        i32::try_from(page.total_count).unwrap_or(i32::MAX),
    )
}

/// Declares `$conn` and `$edge` for `$node`, with `$conn::build(page, cursor, node)`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty) => {
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        #[derive(async_graphql::SimpleObject)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            pub nodes: Vec<$node>,
            pub page_info: $crate::graphql::connection::PageInfo,
            pub total_count: i32,
        }

        impl $conn {
            pub fn build<R>(
                page: $crate::pagination::Page<R>,
                cursor: impl Fn(&R) -> String,
                node: impl Fn(R) -> $node,
            ) -> Self {
                let (pairs, page_info, total_count) =
                    $crate::graphql::connection::assemble(page, cursor, node);
                let nodes = pairs.iter().map(|(_, n)| n.clone()).collect();
                let edges = pairs
                    .into_iter()
                    .map(|(cursor, node)| $edge { cursor, node })
                    .collect();
                $conn {
                    edges,
                    nodes,
                    page_info,
                    total_count,
                }
            }
        }
    };
}
pub(crate) use connection;
