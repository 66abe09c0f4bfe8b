//! Block Kit rendering of a `Reply`: header, fields, sections, "did you mean" buttons, warnings
//! and a context line with provenance, cut to Slack's limits with an "and N more" line.

use slack_morphism::prelude::*;

use crate::chat::render::cut;
use crate::chat::{ActionId, Form, Reply, Style};

/// Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
const MAX_BLOCKS: usize = 50;
const MAX_HEADER: usize = 150;
const MAX_SECTION_TEXT: usize = 3000;
const MAX_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 2000;
const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_BUTTON_VALUE: usize = 2000;
const MAX_CONTEXT_ELEMENTS: usize = 10;

/// Action id of every button; its value is the core's encoded `ActionId`.
pub const ACTION: &str = "sb_action";
/// Action ids of buttons posted by earlier releases, whose value is the question itself:
/// "did you mean" picks and "share in channel". Clicks on them are still honoured.
pub const LEGACY_ASK: &str = "sb_ask";
pub const LEGACY_SHARE: &str = "sb_share";

/// Escapes the three characters Slack's mrkdwn treats as markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn md(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

fn button(text: &str, id: &ActionId, style: Style) -> SlackBlockButtonElement {
    let b = SlackBlockButtonElement::new(cut(text, MAX_BUTTON_TEXT).as_str().into())
        .with_action_id(ACTION.into())
        .with_value(id.encode());
    match style {
        Style::Primary => b.with_style(SlackBlockButtonStyle::Primary),
        Style::Danger => b.with_style(SlackBlockButtonStyle::Danger),
        Style::Plain => b,
    }
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
    // A button whose id would not fit Slack's value is left out rather than break the reply.
    let fits = |id: &ActionId| id.encode().len() <= MAX_BUTTON_VALUE;
    let mut buttons: Vec<SlackActionBlockElement> = reply
        .actions
        .iter()
        .filter(|a| fits(&a.id))
        .take(5)
        .map(|a| button(&a.label, &a.id, a.style).into())
        .collect();
    if let Some(share_id) = reply.share.as_ref().filter(|id| share && fits(id)) {
        buttons.push(button("Share in channel", share_id, Style::Plain).into());
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

/// Callback id of the modals forms open.
pub const FORM: &str = "sb_form";
/// Slack's limits on a modal's title and submit label.
const MAX_MODAL_TITLE: usize = 24;

/// A form as a modal: one required text input per field, each field's block and action ids
/// its name; `metadata` comes back with the submission.
pub fn modal(form: &Form, metadata: String) -> SlackView {
    let blocks: Vec<SlackBlock> = form
        .fields
        .iter()
        .map(|f| {
            SlackInputBlock::new(
                cut(&f.label, 2000).as_str().into(),
                SlackInputBlockElement::PlainTextInput(
                    SlackBlockPlainTextInputElement::new()
                        .with_action_id(f.name.clone().into())
                        .with_multiline(true)
                        .with_max_length(f.max_length as u64)
                        .with_placeholder(cut(&f.hint, 150).as_str().into()),
                ),
            )
            .with_block_id(f.name.clone().into())
            .with_optional(false)
            .into()
        })
        .collect();
    SlackView::Modal(
        SlackModalView::new(cut(&form.title, MAX_MODAL_TITLE).as_str().into(), blocks)
            .with_submit(cut(&form.submit, MAX_MODAL_TITLE).as_str().into())
            .with_close("Cancel".into())
            .with_callback_id(FORM.into())
            .with_private_metadata(metadata),
    )
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
    fn actions_become_buttons_carrying_their_encoded_ids() {
        let mut r = Reply::new(Intent::Oncall, "oncall wayback");
        r.view.headline = "More than one entity could be “wayback”.".into();
        r.share = Some(ActionId::Share(r.query.clone()));
        for s in [
            "component:default/wayback-search",
            "api:default/wayback-search",
        ] {
            r.actions.push(crate::chat::Action {
                label: s.into(),
                style: Style::Plain,
                id: ActionId::Ask(format!("oncall {s}")),
            });
        }
        let b = json(&render(&r, true));
        let actions = b
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == "actions")
            .unwrap();
        let el = actions["elements"].as_array().unwrap();
        assert_eq!(el.len(), 3);
        assert_eq!(el[0]["action_id"], ACTION);
        assert_eq!(el[0]["text"]["text"], "component:default/wayback-search");
        assert_eq!(
            el[0]["value"],
            "sb1:ask:oncall component:default/wayback-search"
        );
        assert_eq!(el[2]["value"], "sb1:share:oncall wayback");
    }

    #[test]
    fn a_button_whose_id_would_not_fit_is_left_out() {
        let long = format!("who owns {}", "x".repeat(2000));
        let mut r = Reply::new(Intent::Owner, &long);
        r.view.headline = "h".into();
        r.share = Some(ActionId::Share(long.clone()));
        let b = json(&render(&r, true));
        assert!(
            b.as_array().unwrap().iter().all(|x| x["type"] != "actions"),
            "{b}"
        );
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
