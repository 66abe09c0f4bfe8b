//! A `Reply` as a Discord message: one embed (the headline as its title, fields, sections in
//! its description, small print and provenance in its footer) and buttons carrying the core's
//! encoded actions, cut to Discord's limits with "and N more" so Discord never refuses it.

use serenity::all::{ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter};

use crate::chat::render::cut;
use crate::chat::{Reply, Style};

/// Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FOOTER: usize = 2048;
/// All the text of a message's embeds together.
pub const MAX_EMBED_TOTAL: usize = 6000;
pub const MAX_ROWS: usize = 5;
pub const MAX_BUTTONS_PER_ROW: usize = 5;
pub const MAX_LABEL: usize = 80;
/// A button's `custom_id`; longer actions carry a key (`Bot::fit_buttons`).
pub const MAX_CUSTOM_ID: usize = 100;

/// What a reply becomes on Discord.
pub struct Message {
    pub embed: CreateEmbed,
    pub components: Vec<CreateActionRow>,
    /// The headline, for notifications and screen readers.
    pub content: String,
}

/// Draws `reply`; `share` adds the button that posts an answer given privately for everyone.
pub fn message(reply: &Reply, share: bool) -> Message {
    let v = &reply.view;
    let title = match &v.badge {
        Some(b) => format!("{} [{b}]", v.headline),
        None => v.headline.clone(),
    };
    let title = cut(&title, MAX_TITLE);
    // Everything counts against the 6,000 characters: the title first, then the footer, the
    // fields, and what is left for the description.
    let mut budget = MAX_EMBED_TOTAL.saturating_sub(title.chars().count());
    let footer = cut(&v.context.join(" · "), MAX_FOOTER.min(budget / 4));
    budget = budget.saturating_sub(footer.chars().count());
    let mut fields = Vec::new();
    let shown_fields = v.fields.len().min(MAX_FIELDS);
    for (k, val) in v.fields.iter().take(shown_fields) {
        let name = cut(if k.is_empty() { "\u{200b}" } else { k }, MAX_FIELD_NAME);
        let value = cut(if val.is_empty() { "—" } else { val }, MAX_FIELD_VALUE);
        let cost = name.chars().count() + value.chars().count();
        if cost + 200 > budget {
            break;
        }
        budget -= cost;
        let inline = value.chars().count() <= 40;
        fields.push((name, value, inline));
    }
    let fields_left = v.fields.len() - fields.len();
    let mut description = String::new();
    let limit = MAX_DESCRIPTION.min(budget);
    let push = |line: String, description: &mut String| -> bool {
        // Room for this line and for a last "and N more".
        if description.chars().count() + line.chars().count() + 40 > limit {
            return false;
        }
        description.push_str(&line);
        true
    };
    for w in &reply.warnings {
        push(format!("⚠ {w}\n"), &mut description);
    }
    let mut left = 0;
    for s in &v.sections {
        if !s.title.is_empty() && !push(format!("**{}**\n", s.title), &mut description) {
            left += s.lines.len() + s.more;
            continue;
        }
        let mut shown = 0;
        for l in &s.lines {
            if !push(format!("• {l}\n"), &mut description) {
                break;
            }
            shown += 1;
        }
        left += s.lines.len() - shown + s.more;
    }
    if fields_left > 0 {
        left += fields_left;
    }
    if left > 0 {
        description.push_str(&format!("_… and {left} more_"));
    }
    let mut embed = CreateEmbed::new().title(title).fields(fields);
    if !description.trim().is_empty() {
        embed = embed.description(description.trim_end().to_string());
    }
    if !footer.is_empty() {
        embed = embed.footer(CreateEmbedFooter::new(footer));
    }
    // Buttons: a did-you-mean pick, Approve / Deny, and Share; five to a row, five rows.
    let mut buttons: Vec<CreateButton> = reply
        .actions
        .iter()
        .filter(|a| a.id.encode().len() <= MAX_CUSTOM_ID)
        .map(|a| {
            CreateButton::new(a.id.encode())
                .label(cut(&a.label, MAX_LABEL))
                .style(match a.style {
                    Style::Primary => ButtonStyle::Primary,
                    Style::Danger => ButtonStyle::Danger,
                    Style::Plain => ButtonStyle::Secondary,
                })
        })
        .collect();
    if share
        && let Some(id) = reply
            .share
            .as_ref()
            .filter(|id| id.encode().len() <= MAX_CUSTOM_ID)
    {
        buttons.push(
            CreateButton::new(id.encode())
                .label("Share in channel")
                .style(ButtonStyle::Secondary),
        );
    }
    buttons.truncate(MAX_ROWS * MAX_BUTTONS_PER_ROW);
    let components = buttons
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect();
    Message {
        embed,
        components,
        content: cut(&v.headline, 2000),
    }
}

impl Message {
    /// The message as Discord's JSON body (a post, an edit, an interaction's response),
    /// pinging nobody.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "content": self.content,
            "embeds": [self.embed],
            "components": self.components,
            "allowed_mentions": {"parse": []},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Action, ActionId, Intent, Section};

    fn chars(v: &serde_json::Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    #[test]
    fn a_huge_reply_is_cut_to_discords_limits_and_says_how_much_more() {
        let mut r = Reply::new(Intent::Dependents, "blast radius x");
        r.view.headline = "h".repeat(400);
        r.view.fields = (0..40)
            .map(|i| (format!("field {i} {}", "n".repeat(300)), "v".repeat(2000)))
            .collect();
        r.view.sections = vec![Section::new(
            "Dependents",
            (0..3000)
                .map(|i| format!("component:default/c{i}"))
                .collect(),
            3000,
        )];
        r.view.context = vec!["p".repeat(3000)];
        r.actions = (0..40)
            .map(|i| Action {
                label: "l".repeat(120),
                style: Style::Primary,
                id: ActionId::Ask(format!("who owns c{i}")),
            })
            .collect();
        let m = message(&r, true);
        let e = serde_json::to_value(&m.embed).unwrap();
        assert!(chars(&e["title"]) <= MAX_TITLE);
        assert!(chars(&e["description"]) <= MAX_DESCRIPTION);
        assert!(chars(&e["footer"]["text"]) <= MAX_FOOTER);
        let fields = e["fields"].as_array().unwrap();
        assert!(fields.len() <= MAX_FIELDS);
        let mut total = chars(&e["title"]) + chars(&e["description"]) + chars(&e["footer"]["text"]);
        for f in fields {
            assert!(chars(&f["name"]) <= MAX_FIELD_NAME && chars(&f["value"]) <= MAX_FIELD_VALUE);
            total += chars(&f["name"]) + chars(&f["value"]);
        }
        assert!(total <= MAX_EMBED_TOTAL, "{total}");
        assert!(
            e["description"].as_str().unwrap().ends_with(" more_"),
            "it says what was left out"
        );
        let rows = serde_json::to_value(&m.components).unwrap();
        let rows = rows.as_array().unwrap();
        assert!(rows.len() <= MAX_ROWS);
        for row in rows {
            let buttons = row["components"].as_array().unwrap();
            assert!(buttons.len() <= MAX_BUTTONS_PER_ROW);
            for b in buttons {
                assert!(chars(&b["label"]) <= MAX_LABEL);
                assert!(chars(&b["custom_id"]) <= MAX_CUSTOM_ID);
            }
        }
    }

    #[test]
    fn buttons_carry_the_cores_encoded_actions() {
        let mut r = Reply::new(Intent::Owner, "who owns artst lookup");
        r.view.headline = "Did you mean one of these?".into();
        r.actions = vec![Action {
            label: "artist-lookup".into(),
            style: Style::Primary,
            id: ActionId::Ask("who owns artist-lookup".into()),
        }];
        r.share = Some(ActionId::Share("who owns artst lookup".into()));
        let rows = serde_json::to_value(&message(&r, true).components).unwrap();
        let ids: Vec<&str> = rows[0]["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["custom_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "sb1:ask:who owns artist-lookup",
                "sb1:share:who owns artst lookup"
            ]
        );
        let private = serde_json::to_value(&message(&r, false).components).unwrap();
        assert_eq!(
            private[0]["components"].as_array().unwrap().len(),
            1,
            "no share button"
        );
    }
}
