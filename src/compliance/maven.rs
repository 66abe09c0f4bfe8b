//! Maven's version ordering, ported from maven-artifact's `ComparableVersion`, so a range like
//! `log4j-core < 2.17.1` admits what Maven would.
//!
//! Source: apache/maven, `compat/maven-artifact/src/main/java/org/apache/maven/artifact/
//! versioning/ComparableVersion.java` at commit 27f715d653b73777616602d55a2afaddd9254523.
//!
//! Maven turns a version into a list of items: numbers, qualifiers ("alpha", "rc", "sp" or any
//! other word), combinations of a qualifier and a number ("rc1"), and sub-lists opened by `-`
//! or by a switch from digits to letters. A sub-list is always the last item of its parent, so
//! the nesting is a chain; this port stores it flat, one `Vec` per depth, which keeps parsing,
//! comparing and dropping iterative however deeply a hostile input nests.

use std::cmp::Ordering;

/// Known qualifiers from least to greatest; the empty string stands for a plain release.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// Qualifiers that rank exactly like a plain release.
const RELEASE_QUALIFIERS: [&str; 3] = ["ga", "final", "release"];

/// Runs of up to this many digits are a Java `int` in Maven.
const MAX_INT_DIGITS: usize = 9;

/// Runs of up to this many digits are a Java `long` in Maven; longer ones a `BigInteger`.
const MAX_LONG_DIGITS: usize = 18;

/// A Maven version, parsed once, ordered as Maven orders it.
#[derive(Clone, Debug)]
pub struct MavenVersion {
    /// `levels[0]` is the top-level list; `levels[k + 1]` is the sub-list ending `levels[k]`.
    levels: Vec<Vec<Atom>>,
}

/// The Java type Maven chose for a number; numbers of different widths compare by width alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Width {
    Int,
    Long,
    Big,
}

/// A numeric item: Maven's `IntItem`, `LongItem` or `BigIntegerItem`.
#[derive(Clone, Debug)]
struct Number {
    width: Width,
    /// Decimal digits without leading zeros; "0" for zero.
    digits: String,
}

/// A qualifier item (Maven's `StringItem`), lower-cased, with shorthands and aliases resolved.
#[derive(Clone, Debug)]
struct Text(String);

/// One item of a version list other than a sub-list.
#[derive(Clone, Debug)]
enum Atom {
    Number(Number),
    Text(Text),
    /// Maven's `CombinationItem`: a qualifier directly followed by a number, like "rc1".
    Combination(Text, Number),
}

/// What sits at one position of a list being compared: an item, the sub-list, or nothing.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Atom(&'a Atom),
    List,
    Absent,
}

impl MavenVersion {
    /// Parses any text; like Maven's, this never fails.
    pub fn parse(text: &str) -> MavenVersion {
        MavenVersion {
            levels: parse_levels(text),
        }
    }

    /// The item, sub-list or nothing at `index` of the list at `depth`.
    fn slot(&self, depth: usize, index: usize) -> Slot<'_> {
        let Some(list) = self.levels.get(depth) else {
            return Slot::Absent;
        };
        match list.get(index) {
            Some(atom) => Slot::Atom(atom),
            None if index == list.len() && depth + 1 < self.levels.len() => Slot::List,
            None => Slot::Absent,
        }
    }

    /// `ListItem.compareTo(null)` for the sub-list at `depth`: its items, then its own
    /// sub-list's, each against nothing, until one differs.
    fn compare_absent_from(&self, depth: usize) -> Ordering {
        let mut orderings = self
            .levels
            .iter()
            .skip(depth)
            .flatten()
            .map(Atom::compare_absent);
        orderings.find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }
}

/// `ListItem.compareTo(ListItem)` on the top-level lists, walking down matching sub-lists.
fn compare_versions(a: &MavenVersion, b: &MavenVersion) -> Ordering {
    let mut depth = 0;
    'lists: loop {
        for index in 0.. {
            let ordering = match (a.slot(depth, index), b.slot(depth, index)) {
                (Slot::Absent, Slot::Absent) => return Ordering::Equal,
                // Sub-lists end both lists, so comparing them decides the outcome.
                (Slot::List, Slot::List) => {
                    depth += 1;
                    continue 'lists;
                }
                (Slot::List, Slot::Absent) => return a.compare_absent_from(depth + 1),
                (Slot::Absent, Slot::List) => return b.compare_absent_from(depth + 1).reverse(),
                (Slot::Atom(x), Slot::Atom(y)) => x.compare(y),
                (Slot::Atom(x), Slot::Absent) => x.compare_absent(),
                (Slot::Absent, Slot::Atom(y)) => y.compare_absent().reverse(),
                (Slot::Atom(x), Slot::List) => x.compare_list(),
                (Slot::List, Slot::Atom(y)) => y.compare_list().reverse(),
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for MavenVersion {}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_versions(self, other)
    }
}

/// Convenience: parses both texts and orders them as Maven would.
pub fn compare(a: &str, b: &str) -> Ordering {
    MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
}

impl Number {
    /// Reads a run of digits like `parseItem`. Maven's `stripLeadingZeroes` leaves an all-zero
    /// run whole, so "0000000000" becomes a `long` zero; the width keeps that quirk.
    fn parse(run: &str) -> Number {
        let significant = run.trim_start_matches('0');
        let java_len = match (run.is_empty(), significant.is_empty()) {
            (true, _) => 1,
            (false, true) => run.chars().count(),
            (false, false) => significant.chars().count(),
        };
        let width = match java_len {
            n if n <= MAX_INT_DIGITS => Width::Int,
            n if n <= MAX_LONG_DIGITS => Width::Long,
            _ => Width::Big,
        };
        let digits = match significant {
            "" => "0".to_string(),
            _ => significant.to_string(),
        };
        Number { width, digits }
    }

    fn is_zero(&self) -> bool {
        self.digits == "0"
    }

    /// Width first (an `int` is always below a `long`), then numeric value.
    fn compare(&self, other: &Number) -> Ordering {
        self.width
            .cmp(&other.width)
            .then(self.digits.len().cmp(&other.digits.len()))
            .then_with(|| self.digits.cmp(&other.digits))
    }
}

impl Text {
    /// `StringItem(value, followedByDigit)`: "a1", "b1", "m1" mean alpha, beta, milestone,
    /// and "cr" is another spelling of "rc".
    fn new(word: &str, followed_by_digit: bool) -> Text {
        let word = match (followed_by_digit, word) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "cr") => "rc",
            _ => word,
        };
        Text(word.to_string())
    }

    fn compare(&self, other: &Text) -> Ordering {
        java_cmp(&qualifier_rank(&self.0), &qualifier_rank(&other.0))
    }

    /// Against nothing a qualifier ranks against a plain release: "1-rc" < "1" < "1-sp".
    fn compare_absent(&self) -> Ordering {
        java_cmp(&qualifier_rank(&self.0), &qualifier_rank(""))
    }
}

/// `comparableQualifier`: known qualifiers become their index, others "7-word", so that plain
/// string order puts known ones first and unknown ones after, alphabetically.
fn qualifier_rank(word: &str) -> String {
    if RELEASE_QUALIFIERS.contains(&word) {
        return qualifier_rank("");
    }
    match QUALIFIERS.iter().position(|q| *q == word) {
        Some(index) => index.to_string(),
        None => format!("{}-{word}", QUALIFIERS.len()),
    }
}

/// Java's `String.compareTo`, which orders by UTF-16 code units rather than code points.
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

impl Atom {
    /// Items that `normalize` may drop: zero, the empty qualifier.
    fn is_null(&self) -> bool {
        match self {
            Atom::Number(n) => n.is_zero(),
            Atom::Text(t) => t.0.is_empty(),
            Atom::Combination(..) => false,
        }
    }

    fn starts_qualifier(&self) -> bool {
        matches!(self, Atom::Text(_) | Atom::Combination(..))
    }

    /// `compareTo(null)`: "1.0" == "1", "1.1" > "1", "1-rc1" < "1".
    fn compare_absent(&self) -> Ordering {
        match self {
            Atom::Number(n) if n.is_zero() => Ordering::Equal,
            Atom::Number(_) => Ordering::Greater,
            Atom::Text(t) | Atom::Combination(t, _) => t.compare_absent(),
        }
    }

    /// Against a sub-list: "1.1" > "1-1" but "1.any" < "1-1".
    fn compare_list(&self) -> Ordering {
        match self {
            Atom::Number(_) => Ordering::Greater,
            Atom::Text(_) | Atom::Combination(..) => Ordering::Less,
        }
    }

    /// Numbers beat words; a qualifier with a number beats the bare qualifier ("sp1" > "sp").
    fn compare(&self, other: &Atom) -> Ordering {
        match (self, other) {
            (Atom::Number(a), Atom::Number(b)) => a.compare(b),
            (Atom::Number(_), _) => Ordering::Greater,
            (_, Atom::Number(_)) => Ordering::Less,
            (Atom::Text(a), Atom::Text(b)) => a.compare(b),
            (Atom::Text(a), Atom::Combination(b, _)) => a.compare(b).then(Ordering::Less),
            (Atom::Combination(a, _), Atom::Text(b)) => a.compare(b).then(Ordering::Greater),
            (Atom::Combination(a, m), Atom::Combination(b, n)) => {
                a.compare(b).then_with(|| m.compare(n))
            }
        }
    }
}

/// The state of `ComparableVersion.parseVersion` while it scans the lower-cased text.
struct Parser<'a> {
    chars: &'a [char],
    levels: Vec<Vec<Atom>>,
    is_digit: bool,
    is_combination: bool,
    start: usize,
}

/// `parseVersion`: splits the lower-cased `text` into the chain of lists and normalizes it.
fn parse_levels(text: &str) -> Vec<Vec<Atom>> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut parser = Parser {
        chars: &chars,
        levels: vec![Vec::new()],
        is_digit: false,
        is_combination: false,
        start: 0,
    };
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '.' => parser.on_dot(i),
            '-' => parser.on_hyphen(i),
            '0'..='9' => parser.on_digit(i),
            _ => parser.on_other(i),
        }
    }
    parser.finish();
    normalize(&mut parser.levels);
    parser.levels
}

impl Parser<'_> {
    fn on_dot(&mut self, i: usize) {
        let atom = if i == self.start {
            zero()
        } else {
            self.item(i, self.is_digit)
        };
        self.push(atom);
        self.is_combination = false;
        self.start = i + 1;
    }

    /// A hyphen ends an item and opens a sub-list, except that "x-1" is read as "x1".
    fn on_hyphen(&mut self, i: usize) {
        if i == self.start {
            self.push(zero());
        } else {
            let digit_next = self.chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if !self.is_digit && digit_next {
                self.is_combination = true;
                return;
            }
            self.push(self.item(i, self.is_digit));
        }
        self.start = i + 1;
        self.open_if_nonempty();
        self.is_combination = false;
    }

    /// Digits after letters make a combination item ("rc1") in a fresh sub-list.
    fn on_digit(&mut self, i: usize) {
        if !self.is_digit && i > self.start {
            self.is_combination = true;
            self.open_if_nonempty();
        }
        self.is_digit = true;
    }

    /// Letters after digits end the number and open a sub-list ("1a" is "1-a").
    fn on_other(&mut self, i: usize) {
        if self.is_digit && i > self.start {
            self.push(self.item(i, true));
            self.start = i;
            self.levels.push(Vec::new());
            self.is_combination = false;
        }
        self.is_digit = false;
    }

    /// The trailing item; a trailing word gets its own sub-list, so ".x" sorts like "-x".
    fn finish(&mut self) {
        let end = self.chars.len();
        if end > self.start {
            if !self.is_digit {
                self.open_if_nonempty();
            }
            self.push(self.item(end, self.is_digit));
        }
    }

    /// `parseItem` on the text from `start` up to `end`.
    fn item(&self, end: usize, is_digit: bool) -> Atom {
        let run: String = self
            .chars
            .get(self.start..end)
            .unwrap_or_default()
            .iter()
            .collect();
        if self.is_combination {
            combination(&run.replace('-', ""))
        } else if is_digit {
            Atom::Number(Number::parse(&run))
        } else {
            Atom::Text(Text::new(&run, false))
        }
    }

    fn push(&mut self, atom: Atom) {
        if let Some(list) = self.levels.last_mut() {
            list.push(atom);
        }
    }

    fn open_if_nonempty(&mut self) {
        if self.levels.last().is_some_and(|list| !list.is_empty()) {
            self.levels.push(Vec::new());
        }
    }
}

/// Maven's `IntItem.ZERO`, used for an empty item as in "1..2" or "-1".
fn zero() -> Atom {
    Atom::Number(Number::parse("0"))
}

/// `CombinationItem`: the word before the first digit, then the number.
fn combination(run: &str) -> Atom {
    let split = run.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    let (word, digits) = run.split_at(split);
    Atom::Combination(Text::new(word, true), Number::parse(digits))
}

/// `ListItem.normalize`, deepest list first; an emptied sub-list is removed from its parent.
fn normalize(levels: &mut Vec<Vec<Atom>>) {
    for depth in (0..levels.len()).rev() {
        let child_starts_qualifier = levels
            .get(depth + 1)
            .map(|child| child.first().is_some_and(Atom::starts_qualifier));
        if let Some(list) = levels.get_mut(depth) {
            normalize_list(list, child_starts_qualifier);
        }
        let is_last = depth + 1 == levels.len();
        if depth > 0 && is_last && levels.get(depth).is_some_and(Vec::is_empty) {
            levels.truncate(depth);
        }
    }
}

/// Drops each null item that ends the list or is followed by a qualifier, or by a sub-list
/// starting with one: "1.0.0" is "1", "1.0-rc" is "1-rc", but "1.0-1" keeps its zero.
fn normalize_list(list: &mut Vec<Atom>, child_starts_qualifier: Option<bool>) {
    for i in (0..list.len()).rev() {
        if !list.get(i).is_some_and(Atom::is_null) {
            continue;
        }
        let drop = match list.get(i + 1) {
            Some(next) => matches!(next, Atom::Text(_)),
            None => child_starts_qualifier.unwrap_or(true),
        };
        if drop {
            list.remove(i);
        }
    }
}

// Vectors from apache/maven, compat/maven-artifact/src/test/java/org/apache/maven/artifact/
// versioning/ComparableVersionTest.java at commit a8a99e081971e1016a3795c8452f869c9017cc70,
// plus a few real-world ones. Lists are whitespace-separated; pairs are written "a=b" or "a<b".
#[cfg(test)]
mod tests {
    use super::*;

    /// VERSIONS_QUALIFIER, strictly ascending.
    const QUALIFIER: &str = "1-alpha2snapshot 1-alpha2 1-alpha-123 1-beta-2 1-beta123 1-m2 1-m11
        1-rc 1-cr2 1-rc123 1-SNAPSHOT 1 1-sp 1-sp2 1-sp123 1-abc 1-def 1-pom-1 1-1-snapshot 1-1
        1-2 1-123";

    /// VERSIONS_NUMBER, strictly ascending.
    const NUMBER: &str = "2.0 2.0.a 2-1 2.0.2 2.0.123 2.1.0 2.1-a 2.1b 2.1-c 2.1-1 2.1.0.1 2.2
        2.123 11.a2 11.a11 11.b2 11.b11 11.m2 11.m11 11 11.a 11b 11c 11m";

    /// testVersionsEqual, then testVersionsHaveSameOrderButAreNotEqual and testLocaleIndependent.
    const EQUAL: &str = "1=1 1=1.0 1=1.0.0 1.0=1.0.0 1=1-0 1=1.0-0 1.0=1.0-0 1a=1-a 1a=1.0-a
        1a=1.0.0-a 1.0a=1-a 1.0.0a=1-a 1x=1-x 1x=1.0-x 1x=1.0.0-x 1.0x=1-x 1.0.0x=1-x 1cr=1rc
        1a1=1-alpha-1 1b2=1-beta-2 1m3=1-milestone-3 1X=1x 1A=1a 1B=1b 1M=1m 1Cr=1Rc 1cR=1rC
        1m3=1Milestone3 1m3=1MileStone3 1m3=1MILESTONE3
        1ga=1 1release=1 1final=1 1Ga=1 1GA=1 1RELEASE=1 1RELeaSE=1 1Final=1 1FinaL=1 1FINAL=1
        1-abcdefghijklmnopqrstuvwxyz=1-ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// testVersionComparing, testLeadingZeroes, testCompareDigitToLetter, testLexicographicOrder,
    /// testMng7714.
    const LESS: &str = "1<2 1.5<2 1<2.5 1.0<1.1 1.1<1.2 1.0.0<1.1 1.0.1<1.1 1.1<1.2.0
        1.0-alpha-1<1.0 1.0-alpha-1<1.0-alpha-2 1.0-alpha-1<1.0-beta-1 1.0-beta-1<1.0-SNAPSHOT
        1.0-SNAPSHOT<1.0 1.0-alpha-1-SNAPSHOT<1.0-alpha-1 1.0<1.0-1 1.0-1<1.0-2 1.0.0<1.0-1
        2.0-1<2.0.1 2.0.1-klm<2.0.1-lmn 2.0.1<2.0.1-xyz 2.0.1<2.0.1-123 2.0.1-xyz<2.0.1-123
        0.7<2 0.2<1.0.7 J<7 c<7 aardvark<zebra zebra<ζέβρα
        1.0.final-redhat<1.0-sp1-redhat 1.0.final-redhat<1.0-sp-1-redhat
        1.0.final-redhat<1.0-sp.1-redhat";

    fn assert_ascending(versions: &[&str]) {
        for (i, low) in versions.iter().enumerate() {
            for high in versions.iter().skip(i + 1) {
                assert_eq!(compare(low, high), Ordering::Less, "{low} < {high}");
                assert_eq!(compare(high, low), Ordering::Greater, "{high} > {low}");
            }
        }
    }

    fn assert_equal(a: &str, b: &str) {
        assert_eq!(compare(a, b), Ordering::Equal, "{a} == {b}");
        assert_eq!(compare(b, a), Ordering::Equal, "{b} == {a}");
    }

    /// Checks every "a=b" or "a<b" pair in `pairs`.
    fn assert_pairs(pairs: &str, separator: char) {
        for pair in pairs.split_whitespace() {
            let Some((a, b)) = pair.split_once(separator) else {
                panic!("bad test pair {pair}");
            };
            match separator {
                '=' => assert_equal(a, b),
                _ => assert_ascending(&[a, b]),
            }
        }
    }

    #[test]
    fn versions_qualifier_and_number_are_ascending() {
        assert_ascending(&QUALIFIER.split_whitespace().collect::<Vec<_>>());
        assert_ascending(&NUMBER.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn maven_equalities_and_orderings() {
        assert_pairs(EQUAL, '=');
        assert_pairs(LESS, '<');
    }

    #[test]
    fn mng_5568_6572_6964_are_transitive() {
        assert_ascending(&["6.1.0rc3", "6.1.0", "6.1H.5-beta"]);
        assert_ascending(&[
            "20190126.230843",
            "1234567890.12345",
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ]);
        assert_ascending(&["1-0.alpha", "1-0.beta", "1"]);
    }

    #[test]
    fn leading_zeroes_are_equal() {
        for n in 1..=19 {
            assert_equal(&format!("{}1", "0".repeat(n - 1)), "1");
            assert_equal(&"0".repeat(n), "0");
        }
    }

    #[test]
    fn mng_7644_dot_qualifier_is_hyphen_qualifier() {
        for x in "abc alpha a beta b def milestone m RC".split_whitespace() {
            assert_ascending(&[&format!("1.0.0.{x}1"), &format!("1.0.0-{x}2")]);
            let (hyphen, dot, dots) = (format!("2-{x}"), format!("2.0.{x}"), format!("2.0.0.{x}"));
            assert_equal(&hyphen, &dot);
            assert_equal(&hyphen, &dots);
            assert_equal(&dot, &dots);
        }
    }

    #[test]
    fn real_world() {
        assert_ascending(&["2.14.1", "2.15.0", "2.17.0", "2.17.1", "2.18.0"]);
        assert_ascending(&["2.0-beta9", "2.0-rc1", "2.0"]);
        assert_equal("1.0.0.RELEASE", "1.0.0");
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let long = "9".repeat(100);
        let deep = "1-".repeat(50_000);
        let mut odd: Vec<&str> = " - . --1 1..2 é İ a- 1- ζ-1x".split(' ').collect();
        odd.extend([long.as_str(), deep.as_str()]);
        for &a in &odd {
            for &b in &odd {
                assert_eq!(compare(a, b), compare(b, a).reverse(), "{a} vs {b}");
            }
        }
        assert_equal("", "-");
        assert_equal("", ".");
        assert_equal("1..2", "1.0.2");
        assert_ascending(&["99999999999999999999", &long]);
    }
}
