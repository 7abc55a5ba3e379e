//! The OpenAPI 3.1 document of a route table.

use serde_json::{Map, Value, json};

use crate::access::Access;
use crate::table::RouteDoc;

/// The document for `routes`: every route, its path parameters, who may call it, and the
/// answers it gives (200, and 401/403 where a credential is checked).
pub fn document(title: &str, version: &str, routes: &[RouteDoc]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let (path, parameters) = openapi_path(&route.path);
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({"description": "success", "content": {route.produces: {}}}),
        );
        if route.access.verb().is_some() {
            responses.insert(
                "401".into(),
                json!({"description": "no credential, or one not accepted"}),
            );
            responses.insert(
                "403".into(),
                json!({"description": "the caller lacks the right"}),
            );
        }
        let mut operation = json!({
            "summary": route.summary,
            "description": route.access.describe(),
            "operationId": operation_id(route),
            "responses": responses,
        });
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(
                parameters
                    .iter()
                    .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                    .collect(),
            );
        }
        if route.access.verb().is_some() {
            operation["security"] = json!([{"bearer": []}, {"cookie": []}]);
        } else if route.access == Access::OwnToken {
            operation["security"] = json!([{"bearer": []}]);
        }
        let item = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                "description": "A Kubernetes token (checked with TokenReview, authorised with SubjectAccessReview) or `testwerk ui`'s token"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": crate::access::COOKIE_NAME},
        }},
    })
}

/// axum's `{*rest}` is OpenAPI's `{rest}`; returns the path and its parameter names.
fn openapi_path(path: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut parameters = Vec::new();
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let name = name.trim_start_matches('*');
                parameters.push(name.to_owned());
                out += &format!("{{{name}}}");
            }
            None => out += segment,
        }
    }
    (out, parameters)
}

/// `GET /v1/executions/{id}/logs` → `get_v1_executions_id_logs`: unique per route.
fn operation_id(route: &RouteDoc) -> String {
    let mut id = route.method.as_str().to_ascii_lowercase();
    for part in route
        .path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        id.push('_');
        id.push_str(part);
    }
    if route.path == "/" {
        id.push_str("_root");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn doc(method: Method, path: &str, access: Access) -> RouteDoc {
        RouteDoc {
            method,
            path: path.into(),
            summary: "s",
            access,
            produces: "application/json",
        }
    }

    #[test]
    fn paths_parameters_and_security_come_from_the_table() {
        let routes = [
            doc(Method::GET, "/v1/executions/{id}", Access::Read),
            doc(Method::POST, "/v1/executions/{id}", Access::Control),
            doc(Method::GET, "/files/{id}/{*name}", Access::OwnToken),
            doc(Method::GET, "/v1/health", Access::Public),
        ];
        let d = document("t", "1", &routes);
        let item = &d["paths"]["/v1/executions/{id}"];
        assert_eq!(item["get"]["parameters"][0]["name"], "id");
        assert_eq!(item["post"]["operationId"], "post_v1_executions_id");
        assert!(item["get"]["responses"]["401"].is_object());
        assert_eq!(
            d["paths"]["/files/{id}/{name}"]["get"]["parameters"][1]["name"],
            "name"
        );
        assert!(d["paths"]["/v1/health"]["get"]["security"].is_null());
        assert!(d["paths"]["/v1/health"]["get"]["responses"]["401"].is_null());
    }
}
