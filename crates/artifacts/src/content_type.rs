//! Content types by file name, for artifacts uploaded without one.

/// The content type of `name` by its extension; `application/octet-stream` when unknown.
pub fn by_name(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        return "application/gzip";
    }
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "xml" => "application/xml",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "js" => "text/javascript",
        "css" => "text/css",
        "yaml" | "yml" => "application/yaml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "apk" => "application/vnd.android.package-archive",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn common_report_types_are_known() {
        assert_eq!(super::by_name("reports/TEST-a.XML"), "application/xml");
        assert_eq!(super::by_name("out.tar.gz"), "application/gzip");
        assert_eq!(super::by_name("k6-test-report.html"), "text/html");
        assert_eq!(super::by_name("Makefile"), "application/octet-stream");
    }
}
