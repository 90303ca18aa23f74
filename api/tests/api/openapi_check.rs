//! Every answer the tests see, checked against the API's own OpenAPI
//! document (`/api/openapi.json`): the operation is found by method and path
//! template, its response by status (or `default`), and the body validated
//! against that response's schema. An answer to a path the document does not
//! describe must be the failure envelope.
//!
//! The validator reads the JSON Schema the document uses and refuses any
//! keyword it does not know, so a schema it cannot judge fails the test
//! instead of passing unread.

use reqwest::Method;
use serde_json::{Map, Value};

pub struct Document {
    doc: Value,
}

/// What a check found wrong, with where.
pub type Verdict = Result<(), String>;

impl Document {
    pub fn new(doc: Value) -> Self {
        Self { doc }
    }

    /// The operation for `method` on `path` (`/api/rooms/…`, no query): the
    /// template with the most literal segments wins (`/genres/popular`
    /// over `/genres/{genre}`).
    fn operation(&self, method: &Method, path: &str) -> Option<(&str, &Value)> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        paths
            .iter()
            .filter_map(|(template, item)| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') {
                        if segment.is_empty() {
                            return None;
                        }
                    } else if part != segment {
                        return None;
                    } else {
                        literal += 1;
                    }
                }
                let operation = item.get(method.as_str().to_ascii_lowercase())?;
                Some((literal, template.as_str(), operation))
            })
            .max_by_key(|(literal, ..)| *literal)
            .map(|(_, template, operation)| (template, operation))
    }

    /// Whether every query parameter a request sent (`a=1&b=2`) is one its
    /// operation declares: a handler reading a parameter the document does
    /// not name fails the first test that sends it.
    pub fn check_query(&self, method: &Method, path: &str, query: &str) -> Verdict {
        let Some((template, operation)) = self.operation(method, path) else {
            return Ok(());
        };
        let declared: Vec<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let name = pair.split('=').next().unwrap_or(pair);
            if !declared.contains(&name) {
                return Err(format!(
                    "{method} {template} is sent ?{name}=, which the document does not declare"
                ));
            }
        }
        Ok(())
    }

    /// Whether a request that sent `body` went to an operation that
    /// declares one (`{}` and no body say nothing).
    pub fn check_request_body(&self, method: &Method, path: &str, body: &Value) -> Verdict {
        let says_something = match body {
            Value::Null => false,
            Value::Object(fields) => !fields.is_empty(),
            _ => true,
        };
        match self.operation(method, path) {
            Some((template, operation)) if says_something && operation.get("requestBody").is_none() => Err(format!(
                "{method} {template} is sent a body, which the document does not declare"
            )),
            _ => Ok(()),
        }
    }

    /// Whether `body`, answered `status` to `method path`, is what the
    /// document says.
    pub fn check(&self, method: &Method, path: &str, status: u16, body: &Value) -> Verdict {
        let Some((template, operation)) = self.operation(method, path) else {
            return match body {
                Value::Object(map) if map.get("success") == Some(&Value::Bool(false)) && map.contains_key("code") => {
                    Ok(())
                }
                _ => Err(format!(
                    "{method} {path} is not in the document, yet answered {status} {body}"
                )),
            };
        };
        let responses = &operation["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
            .ok_or_else(|| format!("{method} {template}: the document has no {status} answer"))?;
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return Ok(()); // described without a body (a redirect)
        };
        self.validate(schema, body, "$")
            .map_err(|e| format!("{method} {template} {status}: {e}\nbody: {body}"))
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> Result<&'a Value, String> {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .ok_or_else(|| format!("external $ref {reference}"))?;
                self.doc
                    .pointer(pointer)
                    .ok_or_else(|| format!("dangling $ref {reference}"))
            }
            None => Ok(schema),
        }
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str) -> Verdict {
        let schema = self.resolve(schema)?;
        let Some(keywords) = schema.as_object() else {
            return Err(format!("{at}: the schema is not an object"));
        };
        for (keyword, rule) in keywords {
            match keyword.as_str() {
                "type" => check_type(rule, value, at)?,
                "properties" | "required" | "additionalProperties" => {
                    if let Value::Object(map) = value {
                        self.object(keywords, map, at)?;
                    }
                }
                "items" => {
                    if let Value::Array(items) = value {
                        for (i, item) in items.iter().enumerate() {
                            self.validate(rule, item, &format!("{at}[{i}]"))?;
                        }
                    }
                }
                "allOf" => {
                    for part in rule.as_array().into_iter().flatten() {
                        self.validate(part, value, at)?;
                    }
                }
                "oneOf" | "anyOf" => {
                    let parts = rule.as_array().map_or(&[][..], Vec::as_slice);
                    let passing = parts.iter().filter(|p| self.validate(p, value, at).is_ok()).count();
                    let fits = if keyword == "oneOf" { passing == 1 } else { passing >= 1 };
                    if !fits {
                        return Err(format!("{at}: {value} matches {passing} of the {keyword} choices"));
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(bound), Some(number)) = (rule.as_f64(), value.as_f64()) {
                        let fits = if keyword == "minimum" {
                            number >= bound
                        } else {
                            number <= bound
                        };
                        if !fits {
                            return Err(format!("{at}: {number} is outside its {keyword} {bound}"));
                        }
                    }
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" => {
                    let length = match value {
                        Value::String(text) => Some(text.chars().count()),
                        Value::Array(items) => Some(items.len()),
                        _ => None,
                    };
                    if let (Some(bound), Some(length)) = (rule.as_u64(), length) {
                        let fits = if keyword.starts_with("min") {
                            length as u64 >= bound
                        } else {
                            length as u64 <= bound
                        };
                        if !fits {
                            return Err(format!("{at}: a length of {length} is outside its {keyword} {bound}"));
                        }
                    }
                }
                "enum" => {
                    if !rule.as_array().is_some_and(|choices| choices.contains(value)) {
                        return Err(format!("{at}: {value} is not one of {rule}"));
                    }
                }
                // Annotations: they say what a value means, not what it may be.
                "description" | "format" | "title" | "examples" | "example" | "default" | "deprecated" | "$ref"
                | "readOnly" | "writeOnly" | "contentMediaType" => {}
                other => return Err(format!("{at}: the check does not know the keyword `{other}`")),
            }
        }
        Ok(())
    }

    fn object(&self, keywords: &Map<String, Value>, map: &Map<String, Value>, at: &str) -> Verdict {
        let properties = keywords.get("properties").and_then(Value::as_object);
        for name in keywords.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !map.contains_key(name) {
                return Err(format!("{at}: `{name}` is required"));
            }
        }
        for (name, field) in map {
            let here = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                keywords.get("additionalProperties"),
            ) {
                (Some(schema), _) => self.validate(schema, field, &here)?,
                (None, Some(Value::Bool(false))) => return Err(format!("{here}: not allowed")),
                (None, Some(extra @ Value::Object(_))) => self.validate(extra, field, &here)?,
                // Extra fields are fine (the contract allows them), but
                // only one the document does not name at all.
                (None, _) => {}
            }
        }
        Ok(())
    }
}

fn check_type(rule: &Value, value: &Value, at: &str) -> Verdict {
    let allowed: Vec<&str> = match rule {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(format!("{at}: type {rule} is not a type")),
    };
    let fits = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        _ => false,
    };
    if allowed.iter().any(|name| fits(name)) {
        Ok(())
    } else {
        Err(format!("{at}: {value} is not {rule}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> Document {
        Document::new(json!({
            "paths": {
                "/api/things/{thing}": { "get": { "responses": {
                    "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } } },
                    "default": { "content": { "application/json": { "schema": { "type": "object", "required": ["code"] } } } }
                } } },
                "/api/things": { "post": { "requestBody": { "content": {} }, "responses": {} } },
                "/api/things/popular": { "get": { "parameters": [{ "name": "limit", "in": "query" }], "responses": {
                    "200": { "content": { "application/json": { "schema": { "type": "array", "items": { "type": "integer" } } } } }
                } } }
            },
            "components": { "schemas": { "Thing": {
                "type": "object",
                "required": ["id", "tags"],
                "properties": {
                    "id": { "type": "integer" },
                    "name": { "type": ["string", "null"] },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "owner": { "oneOf": [{ "type": "null" }, { "type": "object", "required": ["id"] }] }
                }
            } } }
        }))
    }

    /// A body sent to an operation that declares none is refused.
    #[test]
    fn undeclared_request_bodies_are_refused() {
        let doc = document();
        let get = Method::GET;
        assert_eq!(doc.check_request_body(&get, "/api/things/7", &json!({})), Ok(()));
        assert_eq!(doc.check_request_body(&get, "/api/things/7", &Value::Null), Ok(()));
        assert!(doc
            .check_request_body(&get, "/api/things/7", &json!({ "name": "x" }))
            .is_err());
        assert_eq!(
            doc.check_request_body(&Method::POST, "/api/things", &json!({ "name": "x" })),
            Ok(())
        );
    }

    /// A query parameter the operation does not declare is refused.
    #[test]
    fn undeclared_query_parameters_are_refused() {
        let doc = document();
        assert_eq!(doc.check_query(&Method::GET, "/api/things/popular", "limit=5"), Ok(()));
        assert_eq!(doc.check_query(&Method::GET, "/api/things/popular", ""), Ok(()));
        let refused = doc.check_query(&Method::GET, "/api/things/popular", "limit=5&sort=name");
        assert!(refused.is_err_and(|e| e.contains("?sort=")));
        assert!(doc.check_query(&Method::GET, "/api/things/7", "limit=5").is_err());
    }

    /// The check itself can fail: each wrong body is refused, naming where.
    #[test]
    fn wrong_answers_are_refused_and_right_ones_pass() {
        let doc = document();
        let get = Method::GET;
        let right = json!({ "id": 1, "name": null, "tags": ["a"], "owner": { "id": 2 }, "extra": true });
        assert_eq!(doc.check(&get, "/api/things/7", 200, &right), Ok(()));
        for (wrong, says) in [
            (json!({ "tags": [] }), "`id` is required"),
            (json!({ "id": "1", "tags": [] }), "$.id"),
            (json!({ "id": 1, "tags": [3] }), "$.tags[0]"),
            (json!({ "id": 1, "tags": [], "owner": {} }), "$.owner"),
            (json!({ "id": 1, "tags": [], "name": 5 }), "$.name"),
        ] {
            let verdict = doc.check(&get, "/api/things/7", 200, &wrong);
            assert!(
                verdict.as_ref().is_err_and(|e| e.contains(says)),
                "{wrong}: {verdict:?}"
            );
        }
        // The literal path wins over the template.
        assert_eq!(doc.check(&get, "/api/things/popular", 200, &json!([1, 2])), Ok(()));
        assert!(doc.check(&get, "/api/things/popular", 200, &json!(right)).is_err());
        // A failure goes by `default`; an undescribed status is refused.
        assert_eq!(
            doc.check(&get, "/api/things/7", 404, &json!({ "code": "not_found" })),
            Ok(())
        );
        assert!(doc.check(&get, "/api/things/popular", 404, &json!({})).is_err());
        // An unknown path must answer the failure envelope.
        assert!(doc.check(&get, "/api/nothing", 200, &json!({ "id": 1 })).is_err());
        let refused = json!({ "success": false, "code": "not_found", "message": "Not found" });
        assert_eq!(doc.check(&Method::DELETE, "/api/nothing", 404, &refused), Ok(()));
    }

    #[test]
    fn unknown_keywords_fail_rather_than_pass_unread() {
        let doc = Document::new(json!({ "paths": { "/a": { "get": { "responses": { "200": {
            "content": { "application/json": { "schema": { "type": "string", "pattern": "^x" } } }
        } } } } } }));
        let verdict = doc.check(&Method::GET, "/a", 200, &json!("y"));
        assert!(verdict.is_err_and(|e| e.contains("`pattern`")));
    }
}
