//! Salt's `json_query` filter (`salt/utils/data.py`): a JMESPath query
//! over the value, evaluated as the `jmespath` 1.1 Python package that
//! Salt 3008 ships does it (its Pratt parser's binding powers, projections
//! that drop `null`s, Python's equality and slicing, the 26 built-in
//! functions and their type checks).

use minijinja::value::Value;
use minijinja::{Environment, Error};

use super::py_error;
use crate::render::values::{from_json, to_json};

mod eval;
mod functions;
mod lexer;
mod parser;

/// Adds `json_query` to `env`.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("json_query", json_query);
}

/// `|json_query(expr)`: the JMESPath expression's result on the value.
fn json_query(value: &Value, expression: String) -> Result<Value, Error> {
    let ast = parser::parse(&expression).map_err(|message| py_error("ParseError", message))?;
    let data = to_json(value)?;
    let result = eval::eval(&ast, &data).map_err(|message| py_error("JMESPathError", message))?;
    Ok(from_json(result))
}

#[cfg(test)]
mod tests {
    use serde_json::Value as Json;

    use super::eval::eval;
    use super::parser::parse;

    fn query(expression: &str, data: &str) -> String {
        let data: Json = serde_json::from_str(data).expect("test JSON");
        match parse(expression).and_then(|ast| eval(&ast, &data)) {
            Ok(result) => result.to_string(),
            Err(message) => format!("ERROR: {message}"),
        }
    }

    #[test]
    fn fields_indexes_and_slices() {
        let data = r#"{"a": {"b": [1, 2, 3, 4, 5]}, "s": "text"}"#;
        assert_eq!(query("a.b[0]", data), "1");
        assert_eq!(query("a.b[-1]", data), "5");
        assert_eq!(query("a.b[9]", data), "null");
        assert_eq!(query("a.b[1:3]", data), "[2,3]");
        assert_eq!(query("a.b[::-2]", data), "[5,3,1]");
        assert_eq!(query("a.b[-2:]", data), "[4,5]");
        assert_eq!(query("s.x", data), "null");
        assert_eq!(query("\"a\".b[1]", data), "2");
        assert!(query("a.b[::0]", data).contains("slice step cannot be zero"));
    }

    #[test]
    fn projections_drop_nulls() {
        let data = r#"{"services": [
            {"name": "http", "port": 80, "tags": ["web"]},
            {"name": "smtp", "port": 25, "tags": ["mail", "out"]},
            {"name": "ssh"}]}"#;
        assert_eq!(query("services[].port", data), "[80,25]");
        assert_eq!(query("services[*].name", data), r#"["http","smtp","ssh"]"#);
        assert_eq!(query("services[?port > `30`].name", data), r#"["http"]"#);
        assert_eq!(
            query("services[?name == 'ssh'] | [0].name", data),
            r#""ssh""#
        );
        assert_eq!(query("services[].tags[]", data), r#"["web","mail","out"]"#);
        assert_eq!(
            query("services[].tags", data),
            r#"[["web"],["mail","out"]]"#
        );
        assert_eq!(query("services[0].*", data), r#"["http",80,["web"]]"#);
        assert_eq!(
            query("services[:2].{n: name, p: port}", data),
            r#"[{"n":"http","p":80},{"n":"smtp","p":25}]"#
        );
        assert_eq!(query("services[0].[name, port]", data), r#"["http",80]"#);
    }

    #[test]
    fn comparisons_and_logic_follow_jmespath_py() {
        assert_eq!(query("a == `1`", r#"{"a": 1.0}"#), "true");
        assert_eq!(query("a == `true`", r#"{"a": 1}"#), "false");
        assert_eq!(query("a < b", r#"{"a": "abc", "b": "abd"}"#), "true");
        assert_eq!(query("a < b", r#"{"a": [1], "b": 2}"#), "null");
        assert_eq!(query("a || b", r#"{"a": [], "b": "x"}"#), r#""x""#);
        assert_eq!(query("a && b", r#"{"a": 0, "b": "x"}"#), r#""x""#);
        assert_eq!(query("!a", r#"{"a": 0}"#), "false");
        assert_eq!(query("!a", r#"{"a": ""}"#), "true");
    }

    #[test]
    fn functions() {
        let data = r#"{"people": [{"name": "b", "age": 30}, {"name": "a", "age": 25}, {"name": "c", "age": 30}],
                      "n": [3, 1.5, 2], "s": "héllo"}"#;
        assert_eq!(query("length(people)", data), "3");
        assert_eq!(
            query("sort_by(people, &age)[].name", data),
            r#"["a","b","c"]"#
        );
        assert_eq!(query("max_by(people, &age).name", data), r#""b""#);
        assert_eq!(query("min_by(people, &name).name", data), r#""a""#);
        assert_eq!(query("map(&age, people)", data), "[30,25,30]");
        assert_eq!(query("sum(n)", data), "6.5");
        assert_eq!(query("avg(n)", data), "2.1666666666666665");
        assert_eq!(query("max(n)", data), "3");
        assert_eq!(query("sort(people[].name)", data), r#"["a","b","c"]"#);
        assert_eq!(query("join(', ', people[].name)", data), r#""b, a, c""#);
        assert_eq!(query("keys(people[0])", data), r#"["name","age"]"#);
        assert_eq!(
            query("to_string(people[0])", data),
            r#""{\"name\":\"b\",\"age\":30}""#
        );
        assert_eq!(query("to_string(s)", data), r#""héllo""#);
        assert_eq!(query("to_number('12')", data), "12");
        assert_eq!(query("to_number('1.5')", data), "1.5");
        assert_eq!(query("to_number('x')", data), "null");
        assert_eq!(query("contains(s, 'll')", data), "true");
        assert_eq!(query("reverse(s)", data), r#""olléh""#);
        assert_eq!(query("type(n)", data), r#""array""#);
        assert_eq!(query("not_null(missing, s)", data), r#""héllo""#);
        assert_eq!(query("floor(`1.5`)", data), "1");
        assert_eq!(
            query("merge(`{\"a\": 1}`, `{\"a\": 2, \"b\": 3}`)", data),
            r#"{"a":2,"b":3}"#
        );
    }

    #[test]
    fn errors_are_jmespaths() {
        assert!(query("length(`1`)", "{}").contains(
            "In function length(), invalid type for value: 1, expected one of: \
             ['string', 'array', 'object'], received: \"number\""
        ));
        assert!(query("nope()", "{}").contains("Unknown function: nope()"));
        assert!(
            query("abs()", "{}").contains("Expected 1 argument for function abs(), received 0")
        );
        assert!(query("a.", "{}").contains("got: eof: Parse error at column 2"));
        assert!(query("a[", "{}").contains("Incomplete expression"));
        assert!(query("a = b", "{}").contains("Unknown token '='"));
        assert!(query("sum(`[1, \"a\"]`)", "{}").contains(
            "In function sum(), invalid type for value: a, expected one of: ['array-number'], received: \"str\""
        ));
    }
}
