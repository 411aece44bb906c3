//! Application commands over HTTP: global and guild commands managed by
//! the application's bot (create-or-replace, read, edit, delete, bulk
//! overwrite keeping ids), rendered as Discord renders them, validated
//! with Discord's 50035 paths, refused to everyone else, and their
//! permissions in a guild.

use concord_testkit::gateway::GatewayClient;
use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::server;

/// An owner, their guild and a bot in it.
struct World {
    s: TestServer,
    owner: Account,
    guild: String,
    bot: Account,
}

impl World {
    async fn new() -> World {
        let s = server();
        let owner = s.register("owner").await;
        let (guild, _) = s.guild(&owner, "Home").await;
        let bot = s.bot(&owner, "helper", &guild, "0").await;
        World {
            s,
            owner,
            guild,
            bot,
        }
    }

    fn global(&self) -> String {
        format!("/applications/{}/commands", self.bot.id)
    }

    fn in_guild(&self) -> String {
        format!(
            "/applications/{}/guilds/{}/commands",
            self.bot.id, self.guild
        )
    }
}

fn code(reply: &Reply) -> (u16, Value) {
    (reply.status, reply.body["code"].clone())
}

/// The codes of the 50035 errors at `path` (`options.0.name`).
fn errors_at(reply: &Reply, path: &str) -> Vec<String> {
    assert_eq!(code(reply), (400, json!(50035)), "{:?}", reply.body);
    let mut node = &reply.body["errors"];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        node = &node[part];
    }
    node["_errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors at {path}: {}", reply.body))
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

fn blep() -> Value {
    json!({
        "name": "blep",
        "type": 1,
        "description": "Send a random adorable animal photo",
        "name_localizations": { "fr": "blep-fr", "de": "blep-de" },
        "description_localizations": { "fr": "Une photo" },
        "options": [
            {
                "name": "animal",
                "description": "The type of animal",
                "type": 3,
                "required": true,
                "choices": [
                    { "name": "Dog", "value": "animal_dog" },
                    { "name": "Cat", "value": "animal_cat", "name_localizations": { "fr": "Chat" } }
                ]
            },
            {
                "name": "count",
                "description": "How many",
                "type": 4,
                "min_value": 1,
                "max_value": 10
            },
            {
                "name": "query",
                "description": "Search",
                "type": 3,
                "autocomplete": true,
                "min_length": 2,
                "max_length": 50
            },
            { "name": "where", "description": "A channel", "type": 7, "channel_types": [0, 5] }
        ]
    })
}

#[tokio::test]
async fn global_commands_are_created_read_edited_and_deleted() {
    let w = World::new().await;
    let made = w.s.post(&w.global(), &w.bot.auth, blep()).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let c = made.body.clone();
    let id = c["id"].as_str().unwrap().to_owned();
    let version = c["version"].as_str().unwrap().to_owned();
    assert_eq!(c["application_id"], w.bot.id.as_str());
    assert_eq!(c["type"], 1);
    assert_eq!(c["name"], "blep");
    assert_eq!(
        c["name_localizations"],
        json!({ "de": "blep-de", "fr": "blep-fr" })
    );
    assert_eq!(c["description_localizations"], json!({ "fr": "Une photo" }));
    assert_eq!(c["default_member_permissions"], Value::Null);
    assert_eq!(c["dm_permission"], true);
    assert_eq!(c["contexts"], Value::Null);
    assert_eq!(c["integration_types"], json!([0]));
    assert_eq!(c["nsfw"], false);
    assert!(c.get("guild_id").is_none(), "global");
    assert_eq!(
        c["options"],
        json!([
            {
                "type": 3, "name": "animal", "description": "The type of animal", "required": true,
                "choices": [
                    { "name": "Dog", "value": "animal_dog" },
                    { "name": "Cat", "name_localizations": { "fr": "Chat" }, "value": "animal_cat" }
                ]
            },
            { "type": 4, "name": "count", "description": "How many", "min_value": 1, "max_value": 10 },
            {
                "type": 3, "name": "query", "description": "Search",
                "min_length": 2, "max_length": 50, "autocomplete": true
            },
            { "type": 7, "name": "where", "description": "A channel", "channel_types": [0, 5] }
        ])
    );

    // The same type and name again replaces it, keeping its id: 200, and
    // the version stays while nothing changed.
    let again = w.s.post(&w.global(), &w.bot.auth, blep()).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(again.body["version"], version.as_str());
    let mut changed = blep();
    changed["description"] = json!("Another description");
    let replaced = w.s.post(&w.global(), &w.bot.auth, changed).await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.body["id"], id.as_str());
    assert_ne!(replaced.body["version"], version.as_str(), "a new version");
    let version = replaced.body["version"].as_str().unwrap().to_owned();

    // A user command may share the name: another type.
    let user =
        w.s.post(
            &w.global(),
            &w.bot.auth,
            json!({ "name": "blep", "type": 2 }),
        )
        .await;
    assert_eq!(user.status, 201, "{:?}", user.body);
    assert_eq!(user.body["description"], "");
    assert_ne!(user.body["id"], id.as_str());

    // The list leaves out the dictionaries, giving the reader's locale's
    // text instead; with_localizations gives them whole.
    let list =
        w.s.request_with(
            "GET",
            &w.global(),
            Some(&w.bot.auth),
            None,
            &[("x-discord-locale", "fr")],
        )
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    let listed = &list.body[0];
    assert_eq!(listed["id"], id.as_str());
    assert!(listed.get("name_localizations").is_none(), "{listed}");
    assert_eq!(listed["name_localized"], "blep-fr");
    assert_eq!(listed["description_localized"], "Une photo");
    assert_eq!(listed["options"][0]["choices"][1]["name_localized"], "Chat");
    let german =
        w.s.request_with(
            "GET",
            &w.global(),
            Some(&w.bot.auth),
            None,
            &[("accept-language", "de,en;q=0.8")],
        )
        .await;
    assert_eq!(german.body[0]["name_localized"], "blep-de");
    assert!(german.body[0].get("description_localized").is_none());
    let full =
        w.s.get(
            &format!("{}?with_localizations=true", w.global()),
            &w.bot.auth,
        )
        .await;
    assert_eq!(full.body[0]["name_localizations"]["fr"], "blep-fr");
    assert!(full.body[0].get("name_localized").is_none());
    assert_eq!(full.body[1]["name_localizations"], Value::Null);
    let refused =
        w.s.get(
            &format!("{}?with_localizations=maybe", w.global()),
            &w.bot.auth,
        )
        .await;
    assert_eq!(
        errors_at(&refused, "with_localizations"),
        ["BOOLEAN_TYPE_COERCE"]
    );

    let one = w.s.get(&format!("{}/{id}", w.global()), &w.bot.auth).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, replaced.body);

    // An edit replaces the fields it gives; the version moves with it.
    let path = format!("{}/{id}", w.global());
    let edited =
        w.s.patch(
            &path,
            &w.bot.auth,
            json!({ "default_member_permissions": "32", "contexts": [0], "nsfw": true }),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(edited.body["id"], id.as_str());
    assert_eq!(edited.body["default_member_permissions"], "32");
    assert_eq!(edited.body["contexts"], json!([0]));
    assert_eq!(edited.body["nsfw"], true);
    assert_eq!(edited.body["options"], replaced.body["options"], "kept");
    assert_ne!(edited.body["version"], version.as_str());
    let unchanged = w.s.patch(&path, &w.bot.auth, json!({ "nsfw": true })).await;
    assert_eq!(unchanged.body["version"], edited.body["version"]);
    let cleared =
        w.s.patch(
            &path,
            &w.bot.auth,
            json!({ "default_member_permissions": null }),
        )
        .await;
    assert_eq!(cleared.body["default_member_permissions"], Value::Null);
    // Renaming onto another command of its type is refused.
    let other =
        w.s.post(
            &w.global(),
            &w.bot.auth,
            json!({ "name": "other", "description": "d" }),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap();
    let clash =
        w.s.patch(
            &format!("{}/{other_id}", w.global()),
            &w.bot.auth,
            json!({ "name": "blep" }),
        )
        .await;
    assert_eq!(
        errors_at(&clash, "name"),
        ["APPLICATION_COMMANDS_DUPLICATE_NAME"]
    );

    let deleted = w.s.delete(&path, &w.bot.auth).await;
    assert_eq!(deleted.status, 204);
    let gone = w.s.get(&path, &w.bot.auth).await;
    assert_eq!(code(&gone), (404, json!(10063)));
    assert_eq!(
        code(&w.s.delete(&path, &w.bot.auth).await),
        (404, json!(10063))
    );
    let patched =
        w.s.patch(&path, &w.bot.auth, json!({ "nsfw": false }))
            .await;
    assert_eq!(code(&patched), (404, json!(10063)));
}

/// The names and ids of a list of commands, by name.
fn by_name(list: &Value) -> std::collections::BTreeMap<String, (String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = format!("{}:{}", c["type"], c["name"].as_str().unwrap());
            let id = c["id"].as_str().unwrap().to_owned();
            (name, (id, c["version"].as_str().unwrap().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn bulk_overwrites_keep_the_ids_of_commands_that_stay() {
    let w = World::new().await;
    let first = json!([
        { "name": "a", "description": "first a" },
        { "name": "b", "description": "first b" },
        { "name": "High Five", "type": 2 },
    ]);
    let put = w.s.put(&w.in_guild(), &w.bot.auth, first).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let before = by_name(&put.body);
    assert_eq!(before.len(), 3);
    let c = &put.body[0];
    assert_eq!(c["guild_id"], w.guild.as_str());
    for global_only in ["dm_permission", "contexts", "integration_types"] {
        assert!(c.get(global_only).is_none(), "{global_only}: {c}");
    }

    let second = json!([
        { "name": "c", "description": "new c" },
        { "name": "a", "description": "changed a" },
        { "name": "High Five", "type": 2 },
    ]);
    let put = w.s.put(&w.in_guild(), &w.bot.auth, second).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let names: Vec<&str> = (put.body.as_array().unwrap())
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "a", "High Five"], "in the order given");
    let after = by_name(&put.body);
    assert_eq!(after["1:a"].0, before["1:a"].0, "a kept its id");
    assert_ne!(after["1:a"].1, before["1:a"].1, "and changed version");
    assert_eq!(after["2:High Five"], before["2:High Five"], "unchanged");
    assert!(!before.values().any(|(id, _)| *id == after["1:c"].0));
    let b = &before["1:b"].0;
    let gone = w.s.get(&format!("{}/{b}", w.in_guild()), &w.bot.auth).await;
    assert_eq!(code(&gone), (404, json!(10063)));

    let listed = w.s.get(&w.in_guild(), &w.bot.auth).await;
    assert_eq!(by_name(&listed.body), after);
    let global = w.s.get(&w.global(), &w.bot.auth).await;
    assert_eq!(global.body, json!([]), "another scope");

    // A guild command is read through its guild only.
    let a = &after["1:a"].0;
    let as_global = w.s.get(&format!("{}/{a}", w.global()), &w.bot.auth).await;
    assert_eq!(code(&as_global), (404, json!(10063)));
    let one = w.s.get(&format!("{}/{a}", w.in_guild()), &w.bot.auth).await;
    assert_eq!(one.body["description"], "changed a");

    let emptied = w.s.put(&w.in_guild(), &w.bot.auth, json!([])).await;
    assert_eq!(emptied.body, json!([]));
    assert_eq!(w.s.get(&w.in_guild(), &w.bot.auth).await.body, json!([]));

    // A guild's commands go with it.
    w.s.put(
        &w.in_guild(),
        &w.bot.auth,
        json!([{ "name": "z", "description": "z" }]),
    )
    .await;
    let deleted =
        w.s.request(
            "DELETE",
            &format!("/guilds/{}", w.guild),
            Some(&w.owner.auth),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let after_guild = w.s.get(&w.in_guild(), &w.bot.auth).await;
    assert_eq!(code(&after_guild), (403, json!(50001)));
}

#[tokio::test]
async fn command_bodies_are_validated_as_discord_does() {
    let w = World::new().await;
    let post = |body: Value| {
        let (s, path, auth) = (&w.s, w.global(), w.bot.auth.clone());
        async move { s.post(&path, &auth, body).await }
    };
    let invalid = post(json!({ "name": "Has Caps", "description": "d" })).await;
    assert_eq!(
        errors_at(&invalid, "name"),
        ["APPLICATION_COMMAND_INVALID_NAME"]
    );
    let long = post(json!({ "name": "x".repeat(33), "description": "d" })).await;
    assert_eq!(errors_at(&long, "name"), ["BASE_TYPE_BAD_LENGTH"]);
    let missing = post(json!({ "description": "d" })).await;
    assert_eq!(errors_at(&missing, "name"), ["BASE_TYPE_REQUIRED"]);
    let no_description = post(json!({ "name": "ok" })).await;
    assert_eq!(
        errors_at(&no_description, "description"),
        ["BASE_TYPE_BAD_LENGTH"]
    );
    let long_description = post(json!({ "name": "ok", "description": "d".repeat(101) })).await;
    assert_eq!(
        errors_at(&long_description, "description"),
        ["BASE_TYPE_BAD_LENGTH"]
    );
    let described_user = post(json!({ "name": "Hug", "type": 2, "description": "no" })).await;
    assert_eq!(
        errors_at(&described_user, "description"),
        ["BASE_TYPE_BAD_LENGTH"]
    );
    let entry_point = post(json!({ "name": "launch", "type": 4, "description": "d" })).await;
    assert_eq!(errors_at(&entry_point, "type"), ["BASE_TYPE_CHOICES"]);
    let locale = post(json!({ "name": "ok", "description": "d", "name_localizations": { "xx": "ok", "fr": "Mal" } }))
        .await;
    assert_eq!(
        errors_at(&locale, "name_localizations.xx"),
        ["BASE_TYPE_CHOICES"]
    );
    assert_eq!(
        errors_at(&locale, "name_localizations.fr"),
        ["APPLICATION_COMMAND_INVALID_NAME"]
    );

    let option = |name: &str, kind: u8, required: bool| json!({ "name": name, "description": "d", "type": kind, "required": required });
    let order = post(json!({ "name": "ok", "description": "d", "options": [
        option("first", 3, true), option("second", 3, false), option("third", 4, true)
    ]}))
    .await;
    assert_eq!(
        errors_at(&order, "options.2"),
        ["APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"]
    );
    let names = post(json!({ "name": "ok", "description": "d", "options": [
        option("Upper", 3, false), option("dup", 3, false), option("dup", 4, false)
    ]}))
    .await;
    assert_eq!(
        errors_at(&names, "options.0.name"),
        ["APPLICATION_COMMAND_INVALID_NAME"]
    );
    assert_eq!(
        errors_at(&names, "options.2.name"),
        ["APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS"]
    );
    let many: Vec<Value> = (0..26)
        .map(|i| option(&format!("o{i}"), 3, false))
        .collect();
    let too_many = post(json!({ "name": "ok", "description": "d", "options": many })).await;
    assert_eq!(errors_at(&too_many, "options"), ["BASE_TYPE_MAX_LENGTH"]);
    let choices: Vec<Value> = (0..26)
        .map(|i| json!({ "name": format!("c{i}"), "value": i }))
        .collect();
    let many_choices = post(json!({ "name": "ok", "description": "d", "options": [
        { "name": "n", "description": "d", "type": 4, "choices": choices }
    ]}))
    .await;
    assert_eq!(
        errors_at(&many_choices, "options.0.choices"),
        ["BASE_TYPE_MAX_LENGTH"]
    );
    let both = post(json!({ "name": "ok", "description": "d", "options": [
        { "name": "n", "description": "d", "type": 3, "autocomplete": true,
          "choices": [{ "name": "a", "value": "a" }] }
    ]}))
    .await;
    assert_eq!(
        errors_at(&both, "options.0.autocomplete"),
        ["APPLICATION_COMMAND_AUTOCOMPLETE_INVALID"]
    );
    let wrong_value = post(json!({ "name": "ok", "description": "d", "options": [
        { "name": "n", "description": "d", "type": 4, "min_value": 1.5,
          "choices": [{ "name": "a", "value": "a" }] },
        { "name": "s", "description": "d", "type": 3, "min_length": -1, "max_length": 6001 }
    ]}))
    .await;
    assert_eq!(
        errors_at(&wrong_value, "options.0.choices.0.value"),
        ["NUMBER_TYPE_COERCE"]
    );
    assert_eq!(
        errors_at(&wrong_value, "options.0.min_value"),
        ["NUMBER_TYPE_COERCE"]
    );
    assert_eq!(
        errors_at(&wrong_value, "options.1.min_length"),
        ["NUMBER_TYPE_MIN"]
    );
    assert_eq!(
        errors_at(&wrong_value, "options.1.max_length"),
        ["NUMBER_TYPE_MAX"]
    );

    // Groups hold subcommands; subcommands hold parameters; neither mixes
    // with parameters at the top.
    let group =
        |options: Value| json!({ "name": "g", "description": "d", "type": 2, "options": options });
    let sub =
        |options: Value| json!({ "name": "s", "description": "d", "type": 1, "options": options });
    let fine = post(json!({ "name": "nested", "description": "d", "options": [
        group(json!([sub(json!([option("x", 3, true)]))])),
        { "name": "t", "description": "d", "type": 1 }
    ]}))
    .await;
    assert_eq!(fine.status, 201, "{:?}", fine.body);
    assert_eq!(
        fine.body["options"][0]["options"][0]["options"][0]["name"],
        "x"
    );
    let deep = post(json!({ "name": "deep", "description": "d", "options": [
        group(json!([group(json!([]))])),
        sub(json!([sub(json!([]))])),
    ]}))
    .await;
    for path in ["options.0.options.0", "options.1.options.0"] {
        assert_eq!(
            errors_at(&deep, path),
            ["APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"],
            "{path}"
        );
    }
    let mixed = post(json!({ "name": "mixed", "description": "d", "options": [
        sub(json!([])), option("x", 3, false)
    ]}))
    .await;
    assert_eq!(
        errors_at(&mixed, "options.1"),
        ["APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"]
    );

    // At most 8000 characters of text per command.
    let big: Vec<Value> = (0..25)
        .map(|i| json!({ "name": format!("o{i}"), "description": "d".repeat(100), "type": 3,
            "choices": (0..25).map(|j| json!({ "name": format!("{j}"), "value": "v".repeat(20) })).collect::<Vec<_>>() }))
        .collect();
    let large = post(json!({ "name": "large", "description": "d", "options": big })).await;
    assert_eq!(errors_at(&large, ""), ["APPLICATION_COMMAND_TOO_LARGE"]);

    // Bulk overwrites nest every error under the command's index, and
    // refuse two commands of one type and name.
    let bulk =
        w.s.put(
            &w.global(),
            &w.bot.auth,
            json!([
                { "name": "fine", "description": "d" },
                { "name": "bad", "description": "d", "options": [option("Bad", 3, false)] },
                { "name": "fine", "description": "again" },
            ]),
        )
        .await;
    assert_eq!(
        errors_at(&bulk, "1.options.0.name"),
        ["APPLICATION_COMMAND_INVALID_NAME"]
    );
    assert_eq!(
        errors_at(&bulk, "2"),
        ["APPLICATION_COMMANDS_DUPLICATE_NAME"]
    );
    let listed = w.s.get(&w.global(), &w.bot.auth).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "nothing written");

    // 100 chat-input commands, and no more; user commands count apart.
    let hundred: Vec<Value> = (0..100)
        .map(|i| json!({ "name": format!("c{i}"), "description": "d" }))
        .collect();
    let full = w.s.put(&w.global(), &w.bot.auth, json!(hundred)).await;
    assert_eq!(full.status, 200, "{:?}", full.body);
    let one_more = post(json!({ "name": "extra", "description": "d" })).await;
    assert_eq!(code(&one_more), (400, json!(30032)));
    let replacing = post(json!({ "name": "c7", "description": "replaced" })).await;
    assert_eq!(replacing.status, 200, "a replacement is no new command");
    let user = post(json!({ "name": "Hug", "type": 2 })).await;
    assert_eq!(user.status, 201);
    let mut over: Vec<Value> = (0..101)
        .map(|i| json!({ "name": format!("c{i}"), "description": "d" }))
        .collect();
    over.push(json!({ "name": "Hug", "type": 2 }));
    let over = w.s.put(&w.global(), &w.bot.auth, json!(over)).await;
    assert_eq!(code(&over), (400, json!(30032)));
}

#[tokio::test]
async fn only_the_applications_bot_manages_its_commands() {
    let w = World::new().await;
    let other_bot = w.s.bot(&w.owner, "other", &w.guild, "0").await;
    let stranger = w.s.register("stranger").await;
    let made =
        w.s.post(
            &w.in_guild(),
            &w.bot.auth,
            json!({ "name": "mine", "description": "d" }),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let global =
        w.s.post(
            &w.global(),
            &w.bot.auth,
            json!({ "name": "mine", "description": "d" }),
        )
        .await;
    let global_id = global.body["id"].as_str().unwrap().to_owned();

    let body = json!({ "name": "theirs", "description": "d" });
    for who in [&other_bot, &w.owner, &stranger] {
        let attempts = [
            w.s.get(&w.global(), &who.auth).await,
            w.s.post(&w.global(), &who.auth, body.clone()).await,
            w.s.put(&w.global(), &who.auth, json!([])).await,
            w.s.get(&format!("{}/{global_id}", w.global()), &who.auth)
                .await,
            w.s.patch(
                &format!("{}/{global_id}", w.global()),
                &who.auth,
                body.clone(),
            )
            .await,
            w.s.delete(&format!("{}/{global_id}", w.global()), &who.auth)
                .await,
            w.s.get(&w.in_guild(), &who.auth).await,
            w.s.post(&w.in_guild(), &who.auth, body.clone()).await,
            w.s.put(&w.in_guild(), &who.auth, json!([])).await,
            w.s.get(&format!("{}/{id}", w.in_guild()), &who.auth).await,
            w.s.patch(&format!("{}/{id}", w.in_guild()), &who.auth, body.clone())
                .await,
            w.s.delete(&format!("{}/{id}", w.in_guild()), &who.auth)
                .await,
        ];
        for reply in attempts {
            assert_eq!(code(&reply), (403, json!(20012)), "{:?}", reply.body);
        }
    }
    let listed = w.s.get(&w.in_guild(), &w.bot.auth).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "untouched");
    assert_eq!(
        w.s.get(&w.global(), &w.bot.auth)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A guild the bot is not in: 50001, on every guild route.
    let (elsewhere, _) = w.s.guild(&stranger, "Elsewhere").await;
    let there = format!("/applications/{}/guilds/{elsewhere}/commands", w.bot.id);
    let attempts = [
        w.s.get(&there, &w.bot.auth).await,
        w.s.post(&there, &w.bot.auth, body.clone()).await,
        w.s.put(&there, &w.bot.auth, json!([])).await,
        w.s.get(&format!("{there}/{id}"), &w.bot.auth).await,
        w.s.delete(&format!("{there}/{id}"), &w.bot.auth).await,
        w.s.get(&format!("{there}/permissions"), &w.bot.auth).await,
        w.s.get(
            &format!("/applications/{}/guilds/1/commands", w.bot.id),
            &w.bot.auth,
        )
        .await,
    ];
    for reply in attempts {
        assert_eq!(code(&reply), (403, json!(50001)), "{:?}", reply.body);
    }
    // Another scope's, or another application's, command is unknown here.
    let other_made =
        w.s.post(
            &format!("/applications/{}/commands", other_bot.id),
            &other_bot.auth,
            body.clone(),
        )
        .await;
    let other_id = other_made.body["id"].as_str().unwrap();
    for path in [
        format!("{}/{other_id}", w.global()),
        format!("{}/{global_id}", w.in_guild()),
        format!("{}/{id}", w.global()),
        format!("{}/123", w.global()),
    ] {
        let reply = w.s.get(&path, &w.bot.auth).await;
        assert_eq!(code(&reply), (404, json!(10063)), "{path}");
    }
    let bad_id = w.s.get(&format!("{}/abc", w.global()), &w.bot.auth).await;
    assert_eq!(errors_at(&bad_id, "command_id"), ["NUMBER_TYPE_COERCE"]);
}

#[tokio::test]
async fn command_permissions_are_read_by_the_bot_and_set_by_a_guild_manager() {
    let w = World::new().await;
    let member = w.s.register("member").await;
    let general = {
        let channels =
            w.s.get(&format!("/guilds/{}/channels", w.guild), &w.owner.auth)
                .await;
        channels
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == 0)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    w.s.join(&w.owner, &general, &member).await;
    let made =
        w.s.post(
            &w.in_guild(),
            &w.bot.auth,
            json!({ "name": "ban", "description": "d" }),
        )
        .await;
    let id = made.body["id"].as_str().unwrap().to_owned();
    let all = format!("{}/permissions", w.in_guild());
    let one = format!("{}/{id}/permissions", w.in_guild());

    let listed = w.s.get(&all, &w.bot.auth).await;
    assert_eq!((listed.status, listed.body.clone()), (200, json!([])));
    let none = w.s.get(&one, &w.bot.auth).await;
    assert_eq!(code(&none), (404, json!(10066)));
    let unknown =
        w.s.get(&format!("{}/123/permissions", w.in_guild()), &w.bot.auth)
            .await;
    assert_eq!(code(&unknown), (404, json!(10063)));

    let mut ws = GatewayClient::connect(&w.s.ws_url(), "v=10").await;
    ws.receive().await;
    ws.identify(w.bot.auth.trim_start_matches("Bot "), 1).await;
    ws.dispatch("READY").await;

    let body = json!({ "permissions": [
        { "id": w.guild, "type": 1, "permission": false },
        { "id": member.id, "type": 2, "permission": true }
    ]});
    // Discord takes a user's token here, never a bot's; and the user
    // manages the guild and its roles.
    let as_bot = w.s.put(&one, &w.bot.auth, body.clone()).await;
    assert_eq!(code(&as_bot), (403, json!(20001)));
    let as_member = w.s.put(&one, &member.auth, body.clone()).await;
    assert_eq!(code(&as_member), (403, json!(50013)));
    let member_reads = w.s.get(&all, &member.auth).await;
    assert_eq!(code(&member_reads), (403, json!(50013)));
    let bad_type =
        w.s.put(
            &one,
            &w.owner.auth,
            json!({ "permissions": [{ "id": "1", "type": 4, "permission": true }] }),
        )
        .await;
    assert_eq!(
        errors_at(&bad_type, "permissions.0.type"),
        ["BASE_TYPE_CHOICES"]
    );

    // Every target is the guild's: a role, a member, a channel (or all of
    // them), never a thread or another guild's.
    let (_, elsewhere) = w.s.guild(&w.owner, "Elsewhere").await;
    let thread =
        w.s.post(
            &format!("/channels/{general}/threads"),
            &w.owner.auth,
            json!({ "name": "t", "type": 11 }),
        )
        .await;
    let thread = thread.body["id"].as_str().unwrap().to_owned();
    let all_channels = (w.guild.parse::<u64>().unwrap() - 1).to_string();
    let targets = json!({ "permissions": [
        { "id": "123", "type": 1, "permission": true },
        { "id": w.owner.id, "type": 2, "permission": true },
        { "id": w.bot.id, "type": 1, "permission": true },
        { "id": "456", "type": 2, "permission": true },
        { "id": elsewhere, "type": 3, "permission": true },
        { "id": thread, "type": 3, "permission": true },
        { "id": general, "type": 3, "permission": true },
        { "id": all_channels, "type": 3, "permission": false }
    ]});
    let unknown_targets = w.s.put(&one, &w.owner.auth, targets).await;
    for (at, why) in [
        ("0", "ROLE"),
        ("2", "ROLE"),
        ("3", "USER"),
        ("4", "CHANNEL"),
        ("5", "CHANNEL"),
    ] {
        let expected = format!("APPLICATION_COMMAND_PERMISSIONS_UNKNOWN_{why}");
        assert_eq!(
            errors_at(&unknown_targets, &format!("permissions.{at}.id")),
            [expected.as_str()]
        );
    }
    let refused = &unknown_targets.body["errors"]["permissions"];
    for fine in ["1", "6", "7"] {
        assert!(refused[fine].is_null(), "{fine}: {refused}");
    }

    let set = w.s.put(&one, &w.owner.auth, body.clone()).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let expected = json!({
        "id": id,
        "application_id": w.bot.id,
        "guild_id": w.guild,
        "permissions": body["permissions"],
    });
    assert_eq!(set.body, expected);
    let event = ws.dispatch("APPLICATION_COMMAND_PERMISSIONS_UPDATE").await;
    assert_eq!(event["d"], expected);
    assert_eq!(w.s.get(&one, &w.bot.auth).await.body, expected);
    assert_eq!(
        w.s.get(&all, &w.bot.auth).await.body,
        json!([expected.clone()])
    );
    assert_eq!(w.s.get(&all, &w.owner.auth).await.body, json!([expected]));

    // Once the command is gone, so are its permissions.
    w.s.delete(&format!("{}/{id}", w.in_guild()), &w.bot.auth)
        .await;
    assert_eq!(w.s.get(&all, &w.bot.auth).await.body, json!([]));
}
