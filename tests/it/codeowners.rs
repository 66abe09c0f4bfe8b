//! CODEOWNERS files from public repositories, read with GitHub's semantics.

use crate::common;

use switchboard::sources::codeowners::CodeOwners;

fn load(name: &str) -> CodeOwners {
    let text = std::fs::read_to_string(common::fixture(&format!("codeowners/{name}__CODEOWNERS")))
        .unwrap();
    CodeOwners::parse(&text)
}

fn owners(c: &CodeOwners, path: &str) -> Vec<String> {
    c.owners_of(path)
        .map(|o| o.owners.iter().map(|x| x.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn every_real_file_parses_and_its_problems_have_line_numbers() {
    for entry in std::fs::read_dir(common::fixture("codeowners")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with("CODEOWNERS") {
            continue;
        }
        let c = CodeOwners::parse(&std::fs::read_to_string(&path).unwrap());
        assert!(!c.is_empty(), "{name} has no rules");
        for (line, why) in &c.problems {
            assert!(*line > 0 && !why.is_empty(), "{name}: {line}: {why}");
        }
    }
}

#[test]
fn backstage_last_match_wins_and_ownerless_lines_clear() {
    let c = load("backstage__backstage");
    assert_eq!(
        owners(&c, "README.md"),
        ["@backstage/maintainers", "@backstage/reviewers"]
    );
    assert_eq!(
        owners(&c, "yarn.lock"),
        ["@backstage/maintainers", "@backstage-service"]
    );
    assert!(
        owners(&c, "plugins/catalog-backend/src/index.ts")
            .contains(&"@backstage/catalog-maintainers".to_string())
    );
    // `/.changeset/*.md` has no owners: changesets are nobody's in particular.
    let o = c.owners_of(".changeset/brave-cats-sing.md").unwrap();
    assert!(o.owners.is_empty());
    assert_eq!(o.pattern, "/.changeset/*.md");
}

#[test]
fn end_of_line_comments_are_not_owners() {
    let c = load("apache__airflow");
    assert_eq!(
        owners(
            &c,
            "airflow-core/src/airflow/ui/public/i18n/locales/de/common.json"
        ),
        ["@jscheffl"]
    );
}

#[test]
fn extension_patterns_match_at_any_depth() {
    let c = load("twbs__bootstrap");
    assert_eq!(owners(&c, "dist/css/bootstrap.css"), ["@twbs/css-review"]);
    assert_eq!(owners(&c, "js/src/modal.js"), ["@twbs/js-review"]);
    assert!(c.owners_of("README.md").is_none());
}

#[test]
fn a_line_with_a_word_that_is_no_owner_is_reported_and_skipped() {
    let c = load("hashicorp__terraform");
    let (line, why) = c
        .problems
        .iter()
        .find(|(l, _)| *l == 5)
        .expect("line 5 reported");
    assert_eq!(*line, 5);
    assert!(why.contains("`Unmaintained` is not an owner"), "{why}");
    // The rest of the file still counts.
    assert!(!c.is_empty());
}
