//! `envsubst`-style rendering of the `*.template` files: `${NAME}` is replaced
//! by its value; unknown names are an error, so a typo cannot reach nginx.

use std::collections::HashMap;

pub fn render(template: &str, values: &HashMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("unterminated ${")?;
        let name = &after[..end];
        let value = values.get(name).ok_or_else(|| format!("no value for ${{{name}}}"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_names_and_refuses_unknown_ones() {
        let values = HashMap::from([("A", "1".to_owned())]);
        assert_eq!(render("x ${A} $uri ${A}", &values).unwrap(), "x 1 $uri 1");
        assert!(render("${B}", &values).is_err());
        assert!(render("${A", &values).is_err());
    }
}
