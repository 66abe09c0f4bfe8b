//! Block Kit rendering of a `Reply`: header, fields, sections, "did you mean" buttons, warnings
//! and a context line with provenance, cut to Slack's limits with an "and N more" line.

use slack_morphism::prelude::*;

use crate::chat::Reply;

/// Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
const MAX_BLOCKS: usize = 50;
const MAX_HEADER: usize = 150;
const MAX_SECTION_TEXT: usize = 3000;
const MAX_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 2000;
const MAX_BUTTON_TEXT: usize = 75;
const MAX_CONTEXT_ELEMENTS: usize = 10;

/// Action id of the "did you mean" buttons; the value is the question to ask.
pub const ACTION_ASK: &str = "sb_ask";
/// Action id of the button that posts an ephemeral answer to the channel.
pub const ACTION_SHARE: &str = "sb_share";

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Escapes the three characters Slack's mrkdwn treats as markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn md(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

fn button(action: &str, text: &str, value: String) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(cut(text, MAX_BUTTON_TEXT).as_str().into())
        .with_action_id(action.into())
        .with_value(value)
}

/// The blocks of a reply. `share` adds a button that posts the answer to the channel.
pub fn render(reply: &Reply, share: bool) -> Vec<SlackBlock> {
    let v = &reply.view;
    let mut blocks: Vec<SlackBlock> = Vec::new();
    if v.headline.chars().count() <= MAX_HEADER && v.badge.is_none() {
        blocks.push(SlackHeaderBlock::new(v.headline.as_str().into()).into());
    } else {
        let badge = v
            .badge
            .as_ref()
            .map(|b| format!(" `{b}`"))
            .unwrap_or_default();
        blocks.push(
            SlackSectionBlock::new()
                .with_text(md(cut(
                    &format!("*{}*{badge}", escape(&v.headline)),
                    MAX_SECTION_TEXT,
                )))
                .into(),
        );
    }
    for chunk in v.fields.chunks(MAX_FIELDS) {
        let fields = chunk
            .iter()
            .map(|(k, val)| {
                md(cut(
                    &format!("*{}*\n{}", escape(k), escape(val)),
                    MAX_FIELD_TEXT,
                ))
            })
            .collect();
        blocks.push(SlackSectionBlock::new().with_fields(fields).into());
    }
    for s in &v.sections {
        let mut text = if s.title.is_empty() {
            String::new()
        } else {
            format!("*{}*\n", escape(&s.title))
        };
        let mut shown = 0;
        for l in &s.lines {
            let line = format!("• {}\n", escape(l));
            if text.len() + line.len() + 40 > MAX_SECTION_TEXT {
                break;
            }
            text.push_str(&line);
            shown += 1;
        }
        let more = s.more + s.lines.len() - shown;
        if more > 0 {
            text.push_str(&format!("_… and {more} more_"));
        }
        blocks.push(SlackSectionBlock::new().with_text(md(text)).into());
    }
    let mut buttons: Vec<SlackActionBlockElement> = reply
        .suggestions
        .iter()
        .take(5)
        .map(|s| button(ACTION_ASK, s, reply.question_for(s)).into())
        .collect();
    if share && !reply.query.is_empty() {
        buttons.push(button(ACTION_SHARE, "Share in channel", reply.query.clone()).into());
    }
    if !buttons.is_empty() {
        blocks.push(SlackActionsBlock::new(buttons).into());
    }
    let mut notes: Vec<SlackContextBlockElement> =
        reply
            .warnings
            .iter()
            .map(|w| {
                SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(format!(
                    ":warning: {}",
                    escape(w)
                )))
            })
            .chain(v.context.iter().map(|c| {
                SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(escape(c)))
            }))
            .collect();
    if notes.len() > MAX_CONTEXT_ELEMENTS {
        let more = notes.len() - (MAX_CONTEXT_ELEMENTS - 1);
        notes.truncate(MAX_CONTEXT_ELEMENTS - 1);
        notes.push(SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(format!("_… and {more} more notes_")),
        ));
    }
    if !notes.is_empty() {
        blocks.push(SlackContextBlock::new(notes).into());
    }
    blocks.truncate(MAX_BLOCKS);
    blocks
}

/// The message body: blocks plus the headline as the notification text.
pub fn content(reply: &Reply, share: bool) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(reply.view.headline.clone())
        .with_blocks(render(reply, share))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Intent, Section};

    fn json(blocks: &[SlackBlock]) -> serde_json::Value {
        serde_json::to_value(blocks).unwrap()
    }

    #[test]
    fn long_lists_are_cut_to_slacks_limits_with_a_count() {
        let mut r = Reply::new(Intent::Dependents, "blast radius x");
        r.view.headline = "x".repeat(200);
        r.view.fields = (0..25)
            .map(|i| (format!("f{i}"), "v".repeat(3000)))
            .collect();
        r.view.sections.push(Section::new(
            "Affected",
            (0..400)
                .map(|i| format!("component-{i:07} (component) via api-{i}"))
                .collect(),
            1000,
        ));
        let b = json(&render(&r, false));
        // A headline over 150 characters cannot be a header block.
        assert_eq!(b[0]["type"], "section");
        let field_sections: Vec<_> = b
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x.get("fields").is_some())
            .collect();
        assert_eq!(field_sections.len(), 3);
        for s in &field_sections {
            let fields = s["fields"].as_array().unwrap();
            assert!(fields.len() <= 10);
            assert!(
                fields
                    .iter()
                    .all(|f| f["text"].as_str().unwrap().chars().count() <= 2000)
            );
        }
        let list = b.as_array().unwrap().last().unwrap()["text"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(list.len() <= 3000, "{}", list.len());
        let shown = list.matches("• ").count();
        assert!(
            list.ends_with(&format!("_… and {} more_", 400 - shown)),
            "{list}"
        );
    }

    #[test]
    fn did_you_mean_becomes_buttons_that_ask_again() {
        let mut r = Reply::new(Intent::Oncall, "oncall wayback");
        r.view.headline = "More than one entity could be “wayback”.".into();
        r.suggestions = vec![
            "component:default/wayback-search".into(),
            "api:default/wayback-search".into(),
        ];
        let b = json(&render(&r, true));
        let actions = b
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == "actions")
            .unwrap();
        let el = actions["elements"].as_array().unwrap();
        assert_eq!(el.len(), 3);
        assert_eq!(el[0]["action_id"], ACTION_ASK);
        assert_eq!(el[0]["value"], "oncall component:default/wayback-search");
        assert_eq!(el[2]["action_id"], ACTION_SHARE);
        assert_eq!(el[2]["value"], "oncall wayback");
    }

    #[test]
    fn user_text_cannot_inject_slack_markup() {
        let mut r = Reply::new(Intent::Info, "x");
        r.view.headline = "h".into();
        r.warnings.push("<!channel> & <@U1>".into());
        let b = json(&render(&r, false));
        let ctx = b.as_array().unwrap().last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(ctx.contains("&lt;!channel&gt; &amp; &lt;@U1&gt;"), "{ctx}");
    }
}
