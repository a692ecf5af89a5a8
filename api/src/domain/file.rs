//! Order files: what may be uploaded, how large, and under which key. Pure rules; the storage
//! and the checks of what actually arrived live in `services::files` and `storage`.
use chrono::Duration;

/// How long a presigned upload URL lives.
pub fn upload_ttl() -> Duration {
    Duration::minutes(15)
}

/// How long a download URL lives.
pub fn download_ttl() -> Duration {
    Duration::minutes(5)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// the provider's report, attached to a delivery
    DeliveryReport,
    /// the buyer's script, attached to the order before delivery
    OrderScript,
}

impl Purpose {
    pub const fn max_bytes(self) -> u64 {
        match self {
            Purpose::DeliveryReport => 25 * 1024 * 1024,
            Purpose::OrderScript => 50 * 1024 * 1024,
        }
    }

    /// The key segment naming the purpose.
    pub const fn segment(self) -> &'static str {
        match self {
            Purpose::DeliveryReport => "delivery-report",
            Purpose::OrderScript => "order-script",
        }
    }
}

/// Extension → the content types a client may declare for it; the first is the one served.
const TYPES: &[(&str, &[&str])] = &[
    ("pdf", &["application/pdf"]),
    (
        "docx",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
    ),
    (
        "fdx",
        &["application/xml", "text/xml", "application/octet-stream"],
    ),
    (
        "fountain",
        &["text/plain", "text/x-fountain", "application/octet-stream"],
    ),
    ("txt", &["text/plain"]),
    ("md", &["text/markdown", "text/plain"]),
];

/// The lower-case extension of a file name, if it has one.
fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The content type served for a stored file name, if its type is accepted at all.
pub fn served_type(name: &str) -> Option<&'static str> {
    let ext = extension(name)?;
    TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, types)| types[0])
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRefusal {
    /// which input field, and why
    Invalid(&'static str, String),
    TooLarge(u64),
}

/// A file a client declares before uploading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// safe for a storage key and a Content-Disposition header
    pub file_name: String,
    /// the canonical type of the extension
    pub content_type: &'static str,
    pub byte_size: u64,
}

/// Checks a declared upload: a name of 1..=200 characters with an accepted extension, a
/// content type that fits the extension, and a size of 1 byte up to the purpose's limit.
pub fn declare(
    purpose: Purpose,
    file_name: &str,
    content_type: &str,
    byte_size: i64,
) -> Result<Declared, FileRefusal> {
    let trimmed = file_name.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > 200 {
        return Err(FileRefusal::Invalid(
            "fileName",
            "the file name must be 1 to 200 characters".to_owned(),
        ));
    }
    let accepted = TYPES.iter().map(|(e, _)| *e).collect::<Vec<_>>().join(", ");
    let Some(types) = extension(trimmed).and_then(|ext| {
        TYPES
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, types)| *types)
    }) else {
        return Err(FileRefusal::Invalid(
            "fileName",
            format!("only these file types are accepted: {accepted}"),
        ));
    };
    let declared = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !types.contains(&declared.as_str()) {
        return Err(FileRefusal::Invalid(
            "contentType",
            format!(
                "a file named like this must be one of: {}",
                types.join(", ")
            ),
        ));
    }
    if byte_size < 1 {
        return Err(FileRefusal::Invalid(
            "byteSize",
            "the file must not be empty".to_owned(),
        ));
    }
    let size = byte_size as u64;
    if size > purpose.max_bytes() {
        return Err(FileRefusal::TooLarge(purpose.max_bytes()));
    }
    Ok(Declared {
        file_name: safe_name(trimmed),
        content_type: types[0],
        byte_size: size,
    })
}

/// Letters, digits, `.`, `-` and `_`; anything else becomes `_`.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The storage key of one upload: unique, and naming its order and purpose.
pub fn key(order_id: &str, purpose: Purpose, token: &str, safe_file_name: &str) -> String {
    format!(
        "orders/{order_id}/{}/{token}/{safe_file_name}",
        purpose.segment()
    )
}

/// Where an attached upload's frozen copy lives: outside every upload key, so no presigned
/// URL ever writes to it.
pub fn frozen_key(order_id: &str, upload_id: &str, safe_file_name: &str) -> String {
    format!("orders/{order_id}/attached/{upload_id}/{safe_file_name}")
}

/// The file name of a key made by `key` for this order and purpose, or None when the key is
/// someone else's (another order, another purpose, or made up).
pub fn file_name_in_key<'a>(key: &'a str, order_id: &str, purpose: Purpose) -> Option<&'a str> {
    let rest = key.strip_prefix(&format!("orders/{order_id}/{}/", purpose.segment()))?;
    let (token, name) = rest.split_once('/')?;
    let token_ok = crate::ids::is_kind(token, crate::ids::Kind::Upload);
    let name_ok = !name.is_empty() && safe_name(name) == name && served_type(name).is_some();
    (token_ok && name_ok).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_files_are_checked_by_name_type_and_size() {
        let ok = declare(
            Purpose::DeliveryReport,
            " My report.PDF ",
            "application/pdf",
            10,
        )
        .expect("accepted");
        assert_eq!(ok.file_name, "My_report.PDF");
        assert_eq!(ok.content_type, "application/pdf");
        assert!(matches!(
            declare(Purpose::DeliveryReport, "x.exe", "application/pdf", 10),
            Err(FileRefusal::Invalid("fileName", _))
        ));
        assert!(matches!(
            declare(Purpose::DeliveryReport, "x.pdf", "text/plain", 10),
            Err(FileRefusal::Invalid("contentType", _))
        ));
        assert!(matches!(
            declare(Purpose::DeliveryReport, "x.pdf", "application/pdf", 0),
            Err(FileRefusal::Invalid("byteSize", _))
        ));
        let limit = Purpose::DeliveryReport.max_bytes() as i64;
        assert!(declare(Purpose::DeliveryReport, "x.pdf", "application/pdf", limit).is_ok());
        assert_eq!(
            declare(
                Purpose::DeliveryReport,
                "x.pdf",
                "application/pdf",
                limit + 1
            ),
            Err(FileRefusal::TooLarge(limit as u64))
        );
        let script = Purpose::OrderScript.max_bytes() as i64;
        assert!(declare(Purpose::OrderScript, "s.fountain", "text/plain", script).is_ok());
        assert!(declare(Purpose::OrderScript, &"a".repeat(197), "text/plain", 1).is_err());
        assert!(declare(
            Purpose::OrderScript,
            &format!("{}.txt", "a".repeat(196)),
            "text/plain",
            1
        )
        .is_ok());
    }

    #[test]
    fn a_key_belongs_to_one_order_and_purpose() {
        let upload = crate::ids::new_id(crate::ids::Kind::Upload);
        let k = key("ord_1", Purpose::DeliveryReport, &upload, "r.pdf");
        assert_eq!(k, format!("orders/ord_1/delivery-report/{upload}/r.pdf"));
        assert_eq!(
            file_name_in_key(&k, "ord_1", Purpose::DeliveryReport),
            Some("r.pdf")
        );
        assert_eq!(file_name_in_key(&k, "ord_2", Purpose::DeliveryReport), None);
        assert_eq!(file_name_in_key(&k, "ord_1", Purpose::OrderScript), None);
        assert_eq!(
            file_name_in_key(
                &format!("orders/ord_1/delivery-report/{upload}/../x.pdf"),
                "ord_1",
                Purpose::DeliveryReport
            ),
            None
        );
        assert_eq!(
            file_name_in_key(
                "orders/ord_1/delivery-report/upl_zz/r.pdf",
                "ord_1",
                Purpose::DeliveryReport
            ),
            None
        );
        // The frozen copy of an attached upload is outside every upload key.
        let frozen = frozen_key("ord_1", &upload, "r.pdf");
        assert_eq!(
            file_name_in_key(&frozen, "ord_1", Purpose::DeliveryReport),
            None
        );
        assert_eq!(
            file_name_in_key(&frozen, "ord_1", Purpose::OrderScript),
            None
        );
    }
}
