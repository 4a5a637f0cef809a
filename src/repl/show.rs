//! Values as the REPL shows them after `=>`: handles as scripts print them
//! (`link eth0 in web`, `netns web`, `pool 10.0.0.0/24`, also inside lists
//! and maps), and a list of records (what links(), addrs(), routes() and
//! neighbours() return) as a table with one row per record, like `ip -br`.

use rhai::{Dynamic, Engine, FnPtr, Map, AST};

/// Columns people look for first; the others follow in their map order.
const FIRST_COLUMNS: &[&str] = &[
    "name", "dest", "via", "dev", "ip", "addr", "kind", "up", "mtu", "master", "link", "mac",
    "state",
];

/// The text after `=> `; a table's rows are indented under its header.
pub fn show(engine: &Engine, value: &Dynamic) -> String {
    match records(value) {
        Some(rows) => table(&rows).join("\n   "),
        None => debug_text(engine, value),
    }
}

/// The value's `to_debug` in the engine, where plumb's handles have theirs.
fn debug_text(engine: &Engine, value: &Dynamic) -> String {
    FnPtr::new("to_debug")
        .and_then(|f| f.call::<String>(engine, &AST::empty(), (value.clone(),)))
        .unwrap_or_else(|_| value.to_string())
}

/// A non-empty list of maps with the same keys and plain values.
fn records(value: &Dynamic) -> Option<Vec<Map>> {
    let list = value.read_lock::<rhai::Array>()?;
    let maps: Vec<Map> = list
        .iter()
        .map(|v| v.read_lock::<Map>().map(|m| m.clone()))
        .collect::<Option<_>>()?;
    let first = maps.first()?;
    let same_keys = maps
        .iter()
        .all(|m| m.len() == first.len() && m.keys().all(|k| first.contains_key(k)));
    let plain = maps
        .iter()
        .flat_map(|m| m.values())
        .all(|v| v.is_string() || v.is_int() || v.is_bool() || v.is_unit() || v.is_float());
    (same_keys && plain).then_some(maps)
}

/// A value in a table: nothing (`()` or "") shows as `-`.
fn cell(value: &Dynamic) -> String {
    match value.to_string() {
        text if value.is_unit() || text.is_empty() => "-".into(),
        text => text,
    }
}

/// A header line and one line per record, columns padded to line up.
fn table(rows: &[Map]) -> Vec<String> {
    let mut columns: Vec<&str> = FIRST_COLUMNS
        .iter()
        .copied()
        .filter(|c| rows[0].contains_key(*c))
        .collect();
    for key in rows[0].keys() {
        if !columns.contains(&key.as_str()) {
            columns.push(key.as_str());
        }
    }
    let mut lines: Vec<Vec<String>> = vec![columns.iter().map(|c| c.to_uppercase()).collect()];
    lines.extend(
        rows.iter()
            .map(|r| columns.iter().map(|c| cell(&r[*c])).collect()),
    );
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|line| {
            let padded: Vec<String> = line
                .iter()
                .zip(&widths)
                .map(|(text, width)| format!("{text:<width$}"))
                .collect();
            padded.join("  ").trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_a_table_and_other_values_their_debug_text() {
        let engine = Engine::new();
        let value = engine
            .eval::<Dynamic>(
                r#"[#{ addr: "127.0.0.1/8", dev: "lo" }, #{ addr: "10.0.0.1/24", dev: "br-long" }]"#,
            )
            .unwrap();
        assert_eq!(
            show(&engine, &value),
            "DEV      ADDR\n   lo       127.0.0.1/8\n   br-long  10.0.0.1/24"
        );
        let route = engine
            .eval::<Dynamic>(r#"[#{ dest: "default", via: "10.0.0.1", dev: () }]"#)
            .unwrap();
        assert_eq!(
            show(&engine, &route),
            "DEST     VIA       DEV\n   default  10.0.0.1  -"
        );
        let mixed = engine.eval::<Dynamic>(r#"[#{ a: 1 }, #{ b: 2 }]"#).unwrap();
        assert_eq!(show(&engine, &mixed), r#"[#{"a": 1}, #{"b": 2}]"#);
        let text = engine.eval::<Dynamic>(r#""x""#).unwrap();
        assert_eq!(show(&engine, &text), r#""x""#);
    }
}
