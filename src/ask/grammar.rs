//! The one grammar every surface shares: a message in, a `Question` out.
//!
//! `COMMANDS` is the table the parser reads and the table `help` prints, so the two cannot
//! drift. Adding a command: add a row here (patterns, usage, summary), a match arm in
//! `answers::answer`, a message function, and a test that says the phrase and checks the reply.

use std::sync::LazyLock;

use regex::Regex;

use crate::conversation::Intent;

/// One row of the grammar.
pub struct Command {
    pub intent: Intent,
    /// Regexes over the cleaned message; the group `x` is the subject, `at` a time.
    pub patterns: &'static [&'static str],
    pub usage: &'static str,
    pub summary: &'static str,
}

/// "teams without oncall", "which teams have no on-call rotation": `find`'s search for
/// teams nobody is on call for, written once for the grammar and for `find`.
macro_rules! teams_without_oncall {
    () => {
        r"(?:which\s+)?teams?\s+(?:without|with\s+no|(?:that\s+)?(?:have|has)\s+no)\s+(?:an?\s+)?on[-\s]?call(?:\s+rotations?)?"
    };
}
pub(crate) use teams_without_oncall;

pub const COMMANDS: &[Command] = &[
    Command {
        intent: Intent::Owner,
        patterns: &[
            r"^(?:who\s+owns|who\s+is\s+the\s+owner\s+of|who\s+maintains|whose\s+is|owner\s+of|owners?)\s+(?P<x>.+)$",
        ],
        usage: "who owns X · owner X",
        summary: "the team that owns X, how to reach it, and any disagreement about it",
    },
    Command {
        intent: Intent::Oncall,
        patterns: &[
            r"^(?:who(?:'s|\s+is)\s+on[\s-]?call\s+(?:for|on)|who\s+do\s+i\s+page\s+for|on[\s-]?call(?:\s+for)?|pager\s+for)\s+(?P<x>.+?)(?:\s+at\s+(?P<at>.+))?$",
            r"^(?:who(?:'s|\s+is)\s+on[\s-]?call|who\s+do\s+i\s+page)(?:\s+now)?$",
        ],
        usage: "who is on call for X · oncall X [at TIME]",
        summary: "who is on call for X now (or at TIME), through X's team and rotation",
    },
    Command {
        intent: Intent::Deps,
        patterns: &[
            r"^what\s+does\s+(?P<x>.+?)\s+(?:depend|rely)\s+on$",
            r"^(?:deps|dependencies|dependencies\s+of|depends)\s+(?P<x>.+)$",
        ],
        usage: "what does X depend on · deps X [--depth N]",
        summary: "what X needs: dependsOn, consumed APIs and their providers",
    },
    Command {
        intent: Intent::Dependents,
        patterns: &[
            r"^what\s+(?:depends|relies)\s+on\s+(?P<x>.+)$",
            r"^what\s+(?:breaks|fails|is\s+affected|goes\s+down)\s+if\s+(?P<x>.+?)(?:\s+(?:goes|is|went)\s+down|\s+(?:fails|breaks|dies|is\s+down))?$",
            r"^(?:dependents|dependents\s+of|blast\s+radius|blast\s+radius\s+(?:of|for)|impact\s+of)\s+(?P<x>.+)$",
        ],
        usage: "what depends on X · dependents X · blast radius X [--depth N] [--graph]",
        summary: "what breaks if X goes down, with paths, affected teams and their on-call",
    },
    Command {
        intent: Intent::Scorecard,
        patterns: &[
            r"^scorecards?\s+(?:for\s+|of\s+)?(?P<x>.+)$",
            r"^how\s+(?:good|ready)\s+is\s+(?P<x>.+)$",
        ],
        usage: "scorecard X · scorecard team TEAM",
        summary: "X's score and level on each scorecard, with what to fix and where; a team's levels and best fixes",
    },
    Command {
        intent: Intent::Completeness,
        patterns: &[
            r"^(?:completeness|catalog\s+completeness|how\s+complete\s+is\s+the\s+catalog)$",
        ],
        usage: "completeness",
        summary: "per team, the share of production entities with an owner, lifecycle, on-call and dependencies",
    },
    Command {
        intent: Intent::Report,
        patterns: &[r"^(?:report\s+wrong|wrong)\s+(?P<x>.+)$"],
        usage: "report wrong X [owner|oncall] WHAT",
        summary: "say an answer is wrong: where it comes from, how to edit it; its team is told",
    },
    Command {
        intent: Intent::Stats,
        patterns: &[r"^(?:stats|usage)(?:\s+(?P<x>\d+)(?:\s+days?)?)?$"],
        usage: "stats [DAYS]",
        summary: "how Switchboard is used: questions, what found nothing, workflows' funnel (platform engineers and admins)",
    },
    Command {
        intent: Intent::Incident,
        patterns: &[
            // "incident card" alone is about the thread's entity, not one named "card".
            r"^incident(?:\s+card)?(?:\s+(?:for|on|in|with))?$",
            r"^(?:incident(?:\s+card)?(?:\s+(?:for|on|in|with))?|(?:we\s+have\s+an\s+)?incident\s+(?:in|on|with))\s+(?P<x>.+)$",
        ],
        usage: "incident X",
        summary: "one card for an incident: owner, on call now and next, blast radius, runbook, recent changes, and a page button",
    },
    Command {
        intent: Intent::Changes,
        patterns: &[
            r"^(?:changes|recent\s+changes|what\s+changed|deploys|deployments)(?:\s+(?:to|in|for|of|on))?(?:\s+(?P<x>.+))?$",
        ],
        usage: "changes X [since 24h | since 2026-11-20]",
        summary: "deploys, merged pull requests and catalog changes of X and what it depends on, newest first",
    },
    Command {
        intent: Intent::Uses,
        patterns: &[r"^(?:who|which\s+(?:services|entities|components))\s+uses?\s+(?P<x>.+)$"],
        usage: "who uses PACKAGE [VERSIONS]",
        summary: "the entities whose SBOMs list a package (VERSIONS: < 2.17.1, or >=2.0, <2.31), production first, with owners and on-call",
    },
    Command {
        intent: Intent::Drift,
        patterns: &[
            r"^(?:drift|golden[\s-]?path\s+drift|(?:what|who)\s+is\s+behind\s+(?:the|its|their)\s+golden[\s-]?paths?)(?:\s+(?:of|for))?(?:\s+(?P<x>.+))?$",
        ],
        usage: "drift [TEAM]",
        summary: "the entities behind their golden-path template's version, with what changed since and a button for the pull request that updates them",
    },
    Command {
        intent: Intent::Endpoint,
        patterns: &[
            r"^(?:find\s+endpoint|endpoint|which\s+apis?\s+(?:exposes?|serves?|has|have))\s+(?P<x>\S+)$",
        ],
        usage: "find endpoint /PATH",
        summary: "the APIs whose definitions expose a path, with the operations and owners",
    },
    Command {
        intent: Intent::Api,
        patterns: &[
            r"^(?:how\s+(?:do|can)\s+i\s+(?:call|use)|api\s+(?:of|for)|apis?|api\s+definition\s+(?:of|for))\s+(?P<x>.+)$",
        ],
        usage: "api X · how do I call X",
        summary: "how to call X: its API definition's servers, auth and operations",
    },
    Command {
        intent: Intent::Docs,
        patterns: &[
            r"^(?:docs|documentation|links|runbooks?|dashboards?)(?:\s+(?:for|of))?\s+(?P<x>.+)$",
            r"^where\s+(?:are|is)\s+(?:the\s+)?(?:docs|documentation|runbooks?|dashboards?)\s+(?:for|of)\s+(?P<x>.+)$",
            r"^(?:show\s+(?:me\s+)?|where\s+(?:are|is)\s+)?(?:its|the)\s+(?:docs|documentation|runbooks?|dashboards?|links)$",
        ],
        usage: "docs X · runbook X",
        summary: "X's runbooks, dashboards, docs and source links, each with where it is written",
    },
    Command {
        intent: Intent::Find,
        patterns: &[
            r"^(?:find|search)(?:\s+(?P<x>.*))?$",
            concat!("^(?P<x>", teams_without_oncall!(), ")$"),
        ],
        usage: "find WORDS [kind:K owner:O tag:T lifecycle:L system:S type:T] · teams without oncall",
        summary: "search the catalog by words and filters; its gaps with missing:oncall, missing:runbook, missing:owner, has:conflict, quarantined, uses:PACKAGE[@VERSIONS]",
    },
    Command {
        intent: Intent::Conflicts,
        patterns: &[r"^(?:conflicts|disagreements)(?:\s+(?:for|of|in|owned\s+by)?\s*(?P<x>.+))?$"],
        usage: "conflicts [TEAM]",
        summary: "entities defined more than once, or claimed for another owner by CODEOWNERS or PagerDuty",
    },
    Command {
        intent: Intent::SyncStatus,
        patterns: &[r"^(?:sync\s+status|sources|sync)$"],
        usage: "sync status",
        summary: "per source: the last complete sync, the last event, failures since, and whether it is behind",
    },
    Command {
        intent: Intent::Whoami,
        patterns: &[r"^(?:whoami|who\s+am\s+i)$"],
        usage: "whoami",
        summary: "who I take you for: your catalog User and teams, or how to be matched",
    },
    Command {
        intent: Intent::Workflows,
        patterns: &[r"^(?:workflows|what\s+can\s+i\s+run)$"],
        usage: "workflows",
        summary: "the workflows you may run (`help run WORKFLOW` for one's parameters)",
    },
    Command {
        intent: Intent::Run,
        patterns: &[r"^run\s+(?P<x>.+)$"],
        usage: "run WORKFLOW key=value … [--dry-run] [--emergency WHY]",
        summary: "request a workflow: its plan, the run id, and who is asked to approve (`--emergency`: run at once, break-glass)",
    },
    Command {
        intent: Intent::Approve,
        patterns: &[r"^approve\s+#?(?P<x>.+)$"],
        usage: "approve ID",
        summary: "approve a run that awaits your decision",
    },
    Command {
        intent: Intent::Deny,
        patterns: &[r"^deny\s+#?(?P<x>.+)$"],
        usage: "deny ID REASON",
        summary: "deny a run, saying why (the requester is told)",
    },
    Command {
        intent: Intent::Status,
        patterns: &[r"^(?:status|run\s+status)\s+#?(?P<x>.+)$"],
        usage: "status ID",
        summary: "how a run stands: its decisions and steps",
    },
    Command {
        intent: Intent::Cancel,
        patterns: &[r"^cancel\s+#?(?P<x>.+)$"],
        usage: "cancel ID [REASON]",
        summary: "cancel a run of yours before it starts",
    },
    Command {
        intent: Intent::Runs,
        patterns: &[r"^(?:runs|my\s+runs)$"],
        usage: "runs",
        summary: "your runs and your teams', newest first",
    },
    Command {
        intent: Intent::Approvals,
        patterns: &[r"^(?:approvals|pending\s+approvals)$"],
        usage: "approvals",
        summary: "the runs that await your decision",
    },
    Command {
        intent: Intent::Audit,
        patterns: &[r"^audit(?:\s+(?P<x>.+))?$"],
        usage: "audit [X | run ID]",
        summary: "who did what, about X or a run (auditors and admins see everything)",
    },
    Command {
        intent: Intent::Reload,
        patterns: &[r"^reload\s+workflows$"],
        usage: "reload workflows",
        summary: "read the workflow definitions again (platform engineers and admins)",
    },
    Command {
        intent: Intent::Help,
        patterns: &[r"^(?:help|commands|\?)(?:\s+(?P<x>.+))?$"],
        usage: "help [TOPIC]",
        summary: "this list, or the commands about TOPIC",
    },
    Command {
        intent: Intent::Info,
        patterns: &[r"^(?:info|show|describe|what\s+is|tell\s+me\s+about)\s+(?P<x>.+)$"],
        usage: "X · info X",
        summary: "the card for X: owner, lifecycle, system, links, relations",
    },
];

static COMPILED: LazyLock<Vec<(Intent, Regex)>> = LazyLock::new(|| {
    COMMANDS
        .iter()
        .flat_map(|c| {
            c.patterns.iter().map(move |p| {
                (
                    c.intent,
                    Regex::new(&format!("(?i){p}")).expect("grammar regex"),
                )
            })
        })
        .collect()
});

static DEPTH_FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?:^|\s)(?:--depth[=\s]+|depth:)(\S+)").unwrap());

static GRAPH_FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?:^|\s)--graph(?:\s|$)").unwrap());

/// A parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub intent: Intent,
    /// The message as asked, trimmed.
    pub query: String,
    /// What the question is about (an entity name, search words, a help topic).
    pub subject: String,
    /// `--depth N`, if given.
    pub depth: Option<u32>,
    /// `at TIME` for on-call questions, as written.
    pub at: Option<String>,
    /// `--graph`: draw the answer (a blast radius) as a picture.
    pub graph: bool,
    /// A problem with the message itself (a bad `--depth`), shown instead of an answer.
    pub error: Option<String>,
    /// No command matched: the whole message is taken as a name (`X` → info).
    pub bare: bool,
    /// What follows the command word, as typed (quotes kept): a command's arguments.
    pub rest: String,
    /// The question names no entity ("who owns it?", "and who is on call?"): it means the
    /// entity of the conversation's last answer.
    pub refers_back: bool,
}

/// Words that stand for the entity of the conversation's last answer.
const PRONOUNS: &[&str] = &[
    "",
    "it",
    "its",
    "this",
    "that",
    "them",
    "this one",
    "that one",
    "this service",
    "that service",
    "the service",
    "the same",
    "same",
];

impl Intent {
    /// Asked about one entity, which a follow-up may leave out.
    pub fn takes_entity(self) -> bool {
        matches!(
            self,
            Intent::Owner
                | Intent::Oncall
                | Intent::Deps
                | Intent::Dependents
                | Intent::Info
                | Intent::Scorecard
                | Intent::Docs
                | Intent::Api
                | Intent::Changes
                | Intent::Incident
        )
    }
}

impl Question {
    /// The question about `entity` instead of a pronoun: a follow-up made explicit.
    pub fn about(&mut self, entity: &str) {
        self.subject = entity.to_string();
        self.refers_back = false;
        self.bare = false;
    }
}

/// Parses a message. Anything no pattern matches is taken as an entity name (the `X` → info
/// form); the answer decides whether that name means anything.
pub fn parse(text: &str) -> Question {
    let query = text.trim().to_string();
    let mut s = clean(&query);
    let mut depth = None;
    let mut error = None;
    if let Some(c) = DEPTH_FLAG.captures(&s) {
        let raw = c[1].to_string();
        match raw.parse::<u32>() {
            Ok(n) if n >= 1 => depth = Some(n),
            _ => {
                error = Some(format!(
                    "--depth takes a whole number of at least 1, not `{raw}`"
                ))
            }
        }
        s = DEPTH_FLAG.replace(&s, "").trim().to_string();
    }
    let graph = GRAPH_FLAG.is_match(&s);
    if graph {
        s = GRAPH_FLAG.replace(&s, " ").trim().to_string();
    }
    for (intent, re) in COMPILED.iter() {
        if let Some(c) = re.captures(&s) {
            let mut subject = c.name("x").map_or("", |m| m.as_str());
            let mut at = c.name("at").map(|m| m.as_str().trim().to_string());
            // `changes X since 24h`: the time is not part of the name.
            if *intent == Intent::Changes {
                let lower = subject.to_ascii_lowercase();
                let cut = if lower.starts_with("since ") {
                    Some(0)
                } else {
                    lower.find(" since ").map(|i| i + 1)
                };
                if let Some(i) = cut {
                    at = Some(subject[i + "since ".len()..].trim().to_string());
                    subject = subject[..i].trim();
                }
            }
            let refers_back = intent.takes_entity()
                && PRONOUNS.contains(&strip_subject(subject).to_lowercase().as_str());
            return Question {
                refers_back,
                intent: *intent,
                rest: subject.trim().to_string(),
                subject: strip_subject(subject),
                query,
                depth,
                graph,
                at,
                error,
                bare: false,
            };
        }
    }
    let intent = if s.is_empty() {
        Intent::Help
    } else {
        Intent::Info
    };
    Question {
        intent,
        query,
        subject: strip_subject(&s),
        depth,
        graph,
        at: None,
        bare: intent == Intent::Info,
        error,
        rest: String::new(),
        refers_back: false,
    }
}

/// Greetings and thanks, which deserve a short help rather than a search for a name.
pub fn is_greeting(text: &str) -> bool {
    const GREETINGS: &[&str] = &[
        "hi", "hello", "hey", "hiya", "howdy", "yo", "hallo", "thanks", "thank", "thx", "cheers",
        "morning", "good", "ping", "sup",
    ];
    // Words as typed: `hello-world-app` is a name, not a greeting.
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let Some(first) = words.first() else {
        return false;
    };
    let good = first != "good"
        || words
            .get(1)
            .is_some_and(|w| ["morning", "afternoon", "evening", "day"].contains(&w.as_str()));
    words.len() <= 4 && GREETINGS.contains(&first.as_str()) && good
}

/// A question in words that no command knows ("how do I deploy", "can you restart checkout"):
/// it starts with a question word, or is too long to be a name. Asked only when no entity is
/// clearly named by the words.
pub fn is_unknown_question(text: &str) -> bool {
    const QUESTION_WORDS: &[&str] = &[
        "how", "why", "when", "where", "what", "who", "which", "can", "could", "should", "would",
        "will", "is", "are", "do", "does", "did", "please", "i", "we", "my", "our",
    ];
    let words: Vec<&str> = text.split_whitespace().collect();
    words.len() >= 3
        || (words.len() > 1 && QUESTION_WORDS.contains(&words[0].to_lowercase().as_str()))
}

/// Removes what surrounds the question: a mention, `/sb`, a trailing question mark.
fn clean(text: &str) -> String {
    let mut s = text.trim();
    for prefix in [
        "/sb ",
        "/sb",
        "@switchboard",
        "switchboard:",
        "switchboard,",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.trim_start();
        }
    }
    if s.starts_with("<@")
        && let Some(end) = s.find('>')
    {
        s = s[end + 1..].trim_start();
    }
    // "and who is on call?", "ok, what depends on it": the joining word is not the question.
    let lower = s.to_ascii_lowercase();
    for join in ["and ", "so ", "ok ", "ok, ", "also ", "then ", "and, "] {
        if lower.starts_with(join) && s.len() > join.len() {
            s = s[join.len()..].trim_start();
            break;
        }
    }
    s.trim_end_matches(['?', '!', '.', ' ']).trim().to_string()
}

/// Drops quotes and a leading article from a subject: "the `payments` service" → "payments service".
fn strip_subject(s: &str) -> String {
    let s = s.trim().trim_matches(['"', '\'', '`', '“', '”']);
    let lower = s.to_ascii_lowercase();
    let s = if lower.starts_with("the ") {
        &s[4..]
    } else {
        s
    };
    s.replace('`', "").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> (Intent, String) {
        let q = parse(s);
        (q.intent, q.subject)
    }

    #[test]
    fn natural_phrases_and_short_commands_agree() {
        assert_eq!(
            q("who owns artist-lookup?"),
            (Intent::Owner, "artist-lookup".into())
        );
        assert_eq!(
            q("owner artist-lookup"),
            (Intent::Owner, "artist-lookup".into())
        );
        assert_eq!(
            q("Who is on call for checkout"),
            (Intent::Oncall, "checkout".into())
        );
        assert_eq!(q("oncall checkout"), (Intent::Oncall, "checkout".into()));
        assert_eq!(
            q("what does www-artist depend on?"),
            (Intent::Deps, "www-artist".into())
        );
        assert_eq!(q("deps www-artist"), (Intent::Deps, "www-artist".into()));
        assert_eq!(
            q("what depends on artist-lookup"),
            (Intent::Dependents, "artist-lookup".into())
        );
        assert_eq!(
            q("what breaks if fraud-service goes down?"),
            (Intent::Dependents, "fraud-service".into())
        );
        assert_eq!(
            q("blast radius petstore"),
            (Intent::Dependents, "petstore".into())
        );
        assert_eq!(
            q("find java kind:component"),
            (Intent::Find, "java kind:component".into())
        );
        assert_eq!(q("artist-lookup"), (Intent::Info, "artist-lookup".into()));
        assert_eq!(
            q("/sb who owns the payment service"),
            (Intent::Owner, "payment service".into())
        );
        assert_eq!(q(""), (Intent::Help, "".into()));
    }

    #[test]
    fn greetings_and_unknown_questions_are_told_apart_from_names() {
        for g in [
            "hi",
            "Hello there",
            "hey switchboard",
            "thanks!",
            "good morning",
        ] {
            assert!(is_greeting(g), "{g}");
        }
        for n in ["payments", "good-service", "hello-world-app", "goodies"] {
            assert!(!is_greeting(n), "{n}");
        }
        assert!(is_unknown_question("how do I deploy"));
        assert!(is_unknown_question("can you restart checkout"));
        assert!(!is_unknown_question("payment service"));
        assert!(!is_unknown_question("artist-lookup"));
        assert!(parse("how do I deploy").bare);
        assert!(!parse("who owns x").bare);
    }

    #[test]
    fn flags_and_times_are_taken_out_of_the_subject() {
        let d = parse("dependents artist-lookup --depth 2");
        assert_eq!((d.subject.as_str(), d.depth), ("artist-lookup", Some(2)));
        let o = parse("oncall team-a at 2026-11-20 03:00");
        assert_eq!(o.subject, "team-a");
        assert_eq!(o.at.as_deref(), Some("2026-11-20 03:00"));
        assert!(parse("deps x --depth zero").error.is_some());
    }

    #[test]
    fn a_question_without_an_entity_refers_back() {
        for (text, intent) in [
            ("and who is on call?", Intent::Oncall),
            ("who owns it", Intent::Owner),
            ("what depends on it?", Intent::Dependents),
            ("show me its runbook", Intent::Docs),
            ("what does it depend on", Intent::Deps),
        ] {
            let q = parse(text);
            assert_eq!((q.intent, q.refers_back), (intent, true), "{text}");
        }
        assert!(!parse("who owns checkout").refers_back);
        let c = parse("changes since 24h");
        assert_eq!(
            (c.intent, c.refers_back, c.at.as_deref()),
            (Intent::Changes, true, Some("24h"))
        );
        let c = parse("what changed in checkout since 2026-11-20");
        assert_eq!(
            (c.subject.as_str(), c.at.as_deref()),
            ("checkout", Some("2026-11-20"))
        );
        assert!(parse("incident").refers_back);
        assert!(parse("incident card").refers_back);
        assert_eq!(parse("incident card for checkout").subject, "checkout");
        assert_eq!(parse("we have an incident in checkout").subject, "checkout");
        assert!(!parse("find it").refers_back);
        let mut q = parse("who owns it");
        q.about("component:default/checkout");
        assert_eq!(q.subject, "component:default/checkout");
        assert!(!q.refers_back);
    }

    /// Help prints each command's usage: every form it shows must parse to that command.
    #[test]
    fn every_form_help_shows_parses_to_its_command() {
        let optional = Regex::new(r"\s*\[[^\]]*\]").unwrap();
        for c in COMMANDS {
            for form in c.usage.split(" · ") {
                let asked = optional
                    .replace_all(form, "")
                    .replace("WORDS", "java")
                    .replace("TEAM", "team-a")
                    .replace("TOPIC", "owner")
                    .replace("PACKAGE", "lodash")
                    .replace('X', "payments");
                assert_eq!(parse(&asked).intent, c.intent, "{asked} (from {form})");
            }
        }
    }
}
