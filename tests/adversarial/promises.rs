//! docs/DESIGN.md §6 names, for each promise, the tests that attack it. This keeps the table
//! honest: every test it names exists, in the file the name says.

use std::fs;

#[test]
fn every_test_the_promise_table_names_exists() {
    let root = env!("CARGO_MANIFEST_DIR");
    let design = fs::read_to_string(format!("{root}/docs/DESIGN.md")).unwrap();
    let table = design
        .split("## 6. Promises and the tests that attack them")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut named = 0;
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let Some(tests) = cells.get(1) else { continue };
        for name in tests.split('`').skip(1).step_by(2) {
            let parts: Vec<&str> = name.split("::").collect();
            let (file, func) = match parts.as_slice() {
                ["adv", module, func] => (format!("tests/adversarial/{module}.rs"), *func),
                // A unit test, named by its module path: `kms::local::access::tests::f` is in
                // src/kms/local/access.rs, `kms::local::tests::f` in src/kms/local/mod.rs.
                ["kms", modules @ .., "tests", func] => {
                    let path = modules.join("/");
                    let file = format!("src/kms/{path}.rs");
                    if path.is_empty() || !std::path::Path::new(&format!("{root}/{file}")).exists()
                    {
                        (format!("src/kms/{path}/mod.rs").replace("//", "/"), *func)
                    } else {
                        (file, *func)
                    }
                }
                ["cli", module, func] => (format!("tests/cli/{module}.rs"), *func),
                [bin, func] => (format!("tests/{bin}.rs"), *func),
                _ => panic!("unexpected test name {name:?} in DESIGN.md §6"),
            };
            let text = fs::read_to_string(format!("{root}/{file}"))
                .unwrap_or_else(|_| panic!("{name}: no file {file}"));
            assert!(
                text.contains(&format!("fn {func}(")),
                "DESIGN.md §6 names {name}, but {file} has no fn {func}"
            );
            named += 1;
        }
    }
    assert!(
        named >= 40,
        "only {named} tests named: the table was not parsed"
    );
}
