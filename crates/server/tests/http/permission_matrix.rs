//! Every route that changes permissions, tried by every kind of caller.
//! After each attempt the guild is read back over HTTP and everyone's
//! permissions in every channel are computed from it: nobody may hold a bit
//! there that the caller did not hold there before (the owner and
//! administrators hold every bit, so anything they do passes).
//!
//! The role ladder gives each manager only roles below them whose bits they
//! hold themselves: Discord's hierarchy deliberately lets a role manager
//! hand out any role below their own, so a guild that puts a stronger role
//! below a manager has delegated it.

use std::collections::HashMap;

use concord_testkit::{Account, Reply, TestServer};
use serde_json::{Value, json};

use crate::server;

const ADMINISTRATOR: u64 = 1 << 3;
const MANAGE_CHANNELS: u64 = 1 << 4;
const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;
const SEND_TTS_MESSAGES: u64 = 1 << 12;
const MANAGE_MESSAGES: u64 = 1 << 13;
const EMBED_LINKS: u64 = 1 << 14;
const ATTACH_FILES: u64 = 1 << 15;
const MENTION_EVERYONE: u64 = 1 << 17;
const MANAGE_GUILD: u64 = 1 << 5;
const MANAGE_ROLES: u64 = 1 << 28;
const ALL: u64 = 8_866_461_766_385_663;
/// What an attacker would like to hold.
const COVETED: u64 = ADMINISTRATOR | MANAGE_GUILD | MANAGE_MESSAGES | MENTION_EVERYONE;

/// The callers, created once and reused in every guild.
struct Cast {
    owner: Account,
    admin: Account,
    channels: Account,
    roles: Account,
    /// Both MANAGE_CHANNELS and MANAGE_ROLES.
    managers: Account,
    plain: Account,
    outsider: Account,
    /// Each caller's own bot application, by user id.
    apps: HashMap<String, String>,
}

/// One guild set up for one route.
struct Guild {
    id: String,
    general: String,
    hidden: String,
    category: String,
    /// Role ids by name; "bot" is the owner's bot's managed role.
    role: HashMap<&'static str, String>,
}

#[derive(Debug, Clone, Copy)]
enum Attack {
    CreateRoleAndTakeIt,
    EditOwnRole,
    EditEveryone,
    ReorderRolesAndTakeAdmin,
    TakeAdminRole,
    PatchOwnRoles,
    DropMutedRole,
    DeleteMutedRole,
    CreateChannelGranting,
    PatchChannelGranting,
    PutOverwriteGranting,
    DeleteDenials,
    PatchHiddenOpen,
    PutHiddenOpen,
    DeleteHiddenDenial,
    SyncHiddenWithCategory,
    SyncGeneralWithCategory,
    TakeOwnership,
    AuthorizeOwnBot,
    TakeBotRole,
}

const ATTACKS: [Attack; 20] = [
    Attack::CreateRoleAndTakeIt,
    Attack::EditOwnRole,
    Attack::EditEveryone,
    Attack::ReorderRolesAndTakeAdmin,
    Attack::TakeAdminRole,
    Attack::PatchOwnRoles,
    Attack::DropMutedRole,
    Attack::DeleteMutedRole,
    Attack::CreateChannelGranting,
    Attack::PatchChannelGranting,
    Attack::PutOverwriteGranting,
    Attack::DeleteDenials,
    Attack::PatchHiddenOpen,
    Attack::PutHiddenOpen,
    Attack::DeleteHiddenDenial,
    Attack::SyncHiddenWithCategory,
    Attack::SyncGeneralWithCategory,
    Attack::TakeOwnership,
    Attack::AuthorizeOwnBot,
    Attack::TakeBotRole,
];

/// Whether the owner may do it: a bot's managed role is given to no one.
fn owner_may(attack: Attack) -> bool {
    !matches!(attack, Attack::TakeBotRole)
}

fn id(reply: &Reply) -> String {
    reply.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {:?}", reply.body))
        .to_owned()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

fn ok(reply: Reply) -> Reply {
    assert!(reply.status < 300, "{:?}", reply.body);
    reply
}

fn overwrite(target: &str, kind: u8, allow: u64, deny: u64) -> Value {
    json!({ "id": target, "type": kind, "allow": allow.to_string(), "deny": deny.to_string() })
}

impl Cast {
    async fn new(s: &TestServer) -> Cast {
        let mut cast = Cast {
            owner: s.register("owner").await,
            admin: s.register("admin").await,
            channels: s.register("channels").await,
            roles: s.register("roles").await,
            managers: s.register("managers").await,
            plain: s.register("plain").await,
            outsider: s.register("outsider").await,
            apps: HashMap::new(),
        };
        let ids: Vec<(String, String)> = cast
            .callers()
            .iter()
            .map(|who| (who.id.clone(), who.auth.clone()))
            .collect();
        for (user, auth) in ids {
            let body = json!({ "name": format!("bot of {user}") });
            let app = s.post("/applications", &auth, body).await;
            cast.apps.insert(user, id(&ok(app)));
        }
        cast
    }

    /// Least privileged first; the owner and the administrator last, as
    /// their attempts succeed and change the guild.
    fn callers(&self) -> [&Account; 7] {
        [
            &self.outsider,
            &self.plain,
            &self.channels,
            &self.roles,
            &self.managers,
            &self.owner,
            &self.admin,
        ]
    }

    fn privileged(&self, who: &Account) -> bool {
        who.id == self.owner.id || who.id == self.admin.id
    }

    /// A guild with a role ladder (bottom to top: member, roles, channels,
    /// managers, muted, admin), a #general where the muted may not send and the role
    /// manager may not mention everyone, a channel hidden from @everyone,
    /// and a category whose overwrites are generous.
    async fn guild(&self, s: &TestServer) -> Guild {
        let (id, general) = s.guild(&self.owner, "Matrix").await;
        for who in [
            &self.admin,
            &self.channels,
            &self.roles,
            &self.managers,
            &self.plain,
        ] {
            s.join(&self.owner, &general, who).await;
        }
        let mut role = HashMap::new();
        for (name, permissions) in [
            ("member", 0),
            ("roles", MANAGE_ROLES),
            ("channels", MANAGE_CHANNELS),
            ("managers", MANAGE_CHANNELS | MANAGE_ROLES),
            ("muted", 0),
            ("admin", ADMINISTRATOR),
        ] {
            let made = s
                .post(
                    &format!("/guilds/{id}/roles"),
                    &self.owner.auth,
                    json!({ "name": name, "permissions": permissions.to_string() }),
                )
                .await;
            role.insert(name, self::id(&ok(made)));
        }
        let bot = &self.apps[&self.owner.id];
        let path = format!("/oauth2/authorize?client_id={bot}&scope=bot");
        let body = json!({ "guild_id": id, "permissions": COVETED.to_string(), "authorize": true });
        ok(s.post(&path, &self.owner.auth, body).await);
        let roles = ok(s
            .get(&format!("/guilds/{id}/roles"), &self.owner.auth)
            .await);
        let managed = roles
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["managed"] == true);
        role.insert("bot", self::id_of(managed.expect("the bot's role")));
        let ladder: Vec<Value> = ["member", "roles", "channels", "managers", "muted", "admin"]
            .iter()
            .enumerate()
            .map(|(i, name)| json!({ "id": role[name], "position": i + 1 }))
            .collect();
        ok(s.patch(
            &format!("/guilds/{id}/roles"),
            &self.owner.auth,
            json!(ladder),
        )
        .await);
        let give = [
            (&self.admin, &["member", "admin"][..]),
            (&self.channels, &["member", "channels", "muted"]),
            (&self.roles, &["member", "roles", "muted"]),
            (&self.managers, &["member", "managers", "muted"]),
            (&self.plain, &["member", "muted"]),
        ];
        for (who, names) in give {
            let roles: Vec<&String> = names.iter().map(|n| &role[n]).collect();
            let path = format!("/guilds/{id}/members/{}", who.id);
            ok(s.patch(&path, &self.owner.auth, json!({ "roles": roles }))
                .await);
        }
        let general_overwrites = json!([
            overwrite(&role["muted"], 0, 0, SEND_MESSAGES),
            overwrite(&self.roles.id, 1, 0, MENTION_EVERYONE),
            overwrite(&self.managers.id, 1, 0, MENTION_EVERYONE),
        ]);
        ok(s.patch(
            &format!("/channels/{general}"),
            &self.owner.auth,
            json!({ "permission_overwrites": general_overwrites }),
        )
        .await);
        let create = |body: Value| {
            let (path, auth) = (format!("/guilds/{id}/channels"), self.owner.auth.clone());
            async move { self::id(&ok(s.post(&path, &auth, body).await)) }
        };
        let hidden = create(json!({
            "name": "hidden",
            "topic": "the plans",
            "permission_overwrites": [overwrite(&id, 0, 0, VIEW_CHANNEL)],
        }))
        .await;
        let category = create(json!({
            "name": "lounge",
            "type": 4,
            "permission_overwrites": [overwrite(&id, 0, MANAGE_MESSAGES | MENTION_EVERYONE, 0)],
        }))
        .await;
        Guild {
            id,
            general,
            hidden,
            category,
            role,
        }
    }

    /// One attempt at `attack` by `who`; every answer.
    async fn attempt(
        &self,
        s: &TestServer,
        g: &Guild,
        who: &Account,
        attack: Attack,
    ) -> Vec<Reply> {
        let auth = &who.auth;
        let gid = &g.id;
        let me = &who.id;
        let mut replies = Vec::new();
        match attack {
            Attack::CreateRoleAndTakeIt => {
                let made = s
                    .post(
                        &format!("/guilds/{gid}/roles"),
                        auth,
                        json!({ "name": "mine", "permissions": COVETED.to_string() }),
                    )
                    .await;
                if made.status < 300 {
                    let role = id(&made);
                    let path = format!("/guilds/{gid}/members/{me}/roles/{role}");
                    replies.push(s.put(&path, auth, json!({})).await);
                }
                replies.push(made);
            }
            Attack::EditOwnRole => {
                let path = format!("/guilds/{gid}/roles/{}", g.role["member"]);
                let body = json!({ "permissions": COVETED.to_string() });
                replies.push(s.patch(&path, auth, body).await);
            }
            Attack::EditEveryone => {
                let path = format!("/guilds/{gid}/roles/{gid}");
                let body = json!({ "permissions": ALL.to_string() });
                replies.push(s.patch(&path, auth, body).await);
            }
            Attack::ReorderRolesAndTakeAdmin => {
                let body = json!([{ "id": g.role["admin"], "position": 1 }]);
                replies.push(s.patch(&format!("/guilds/{gid}/roles"), auth, body).await);
                let path = format!("/guilds/{gid}/members/{me}/roles/{}", g.role["admin"]);
                replies.push(s.put(&path, auth, json!({})).await);
            }
            Attack::TakeAdminRole => {
                let path = format!("/guilds/{gid}/members/{me}/roles/{}", g.role["admin"]);
                replies.push(s.put(&path, auth, json!({})).await);
            }
            Attack::PatchOwnRoles => {
                let roles = json!([g.role["member"], g.role["admin"]]);
                let path = format!("/guilds/{gid}/members/{me}");
                replies.push(s.patch(&path, auth, json!({ "roles": roles })).await);
            }
            Attack::DropMutedRole => {
                let path = format!("/guilds/{gid}/members/{me}/roles/{}", g.role["muted"]);
                replies.push(s.delete(&path, auth).await);
            }
            Attack::DeleteMutedRole => {
                let path = format!("/guilds/{gid}/roles/{}", g.role["muted"]);
                replies.push(s.delete(&path, auth).await);
            }
            Attack::CreateChannelGranting => {
                let body = json!({
                    "name": "mine",
                    "permission_overwrites": [
                        overwrite(me, 1, COVETED, 0),
                        overwrite(gid, 0, MANAGE_ROLES, 0),
                    ],
                });
                replies.push(s.post(&format!("/guilds/{gid}/channels"), auth, body).await);
            }
            Attack::PatchChannelGranting => {
                let body = json!({ "permission_overwrites": [overwrite(me, 1, COVETED | SEND_MESSAGES, 0)] });
                replies.push(
                    s.patch(&format!("/channels/{}", g.general), auth, body)
                        .await,
                );
            }
            Attack::PutOverwriteGranting => {
                let path = format!("/channels/{}/permissions/{me}", g.general);
                let body = json!({ "type": 1, "allow": (COVETED | SEND_MESSAGES).to_string() });
                replies.push(s.put(&path, auth, body).await);
            }
            Attack::DeleteDenials => {
                for target in [&g.role["muted"], &self.roles.id, &self.managers.id] {
                    let path = format!("/channels/{}/permissions/{target}", g.general);
                    replies.push(s.delete(&path, auth).await);
                }
            }
            Attack::PatchHiddenOpen => {
                let body = json!({ "permission_overwrites": [] });
                replies.push(
                    s.patch(&format!("/channels/{}", g.hidden), auth, body)
                        .await,
                );
            }
            Attack::PutHiddenOpen => {
                let path = format!("/channels/{}/permissions/{gid}", g.hidden);
                let body = json!({ "type": 0, "allow": VIEW_CHANNEL.to_string() });
                replies.push(s.put(&path, auth, body).await);
            }
            Attack::DeleteHiddenDenial => {
                let path = format!("/channels/{}/permissions/{gid}", g.hidden);
                replies.push(s.delete(&path, auth).await);
            }
            Attack::SyncHiddenWithCategory | Attack::SyncGeneralWithCategory => {
                let channel = match attack {
                    Attack::SyncHiddenWithCategory => &g.hidden,
                    _ => &g.general,
                };
                let body =
                    json!([{ "id": channel, "parent_id": g.category, "lock_permissions": true }]);
                replies.push(
                    s.patch(&format!("/guilds/{gid}/channels"), auth, body)
                        .await,
                );
            }
            Attack::TakeOwnership => {
                let body = json!({ "owner_id": me });
                replies.push(s.patch(&format!("/guilds/{gid}"), auth, body).await);
            }
            Attack::TakeBotRole => {
                let path = format!("/guilds/{gid}/members/{me}/roles/{}", g.role["bot"]);
                replies.push(s.put(&path, auth, json!({})).await);
                let roles = json!([g.role["member"], g.role["bot"]]);
                let path = format!("/guilds/{gid}/members/{me}");
                replies.push(s.patch(&path, auth, json!({ "roles": roles })).await);
            }
            Attack::AuthorizeOwnBot => {
                let app = &self.apps[me];
                let path = format!("/oauth2/authorize?client_id={app}&scope=bot");
                let body = json!({ "guild_id": gid, "permissions": COVETED.to_string(), "authorize": true });
                replies.push(s.post(&path, auth, body).await);
            }
        }
        replies
    }
}

/// The guild as read back over HTTP: enough to compute anyone's permissions.
struct State {
    owner: String,
    /// Role id to its permissions; @everyone's id is the guild's.
    roles: HashMap<String, u64>,
    /// Member id to their role ids.
    members: HashMap<String, Vec<String>>,
    /// Channel id to its overwrites as (id, type, allow, deny).
    channels: HashMap<String, Vec<(String, u64, u64, u64)>>,
    everyone: String,
}

fn bits(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

impl State {
    async fn read(s: &TestServer, owner: &Account, guild: &str) -> State {
        let g = ok(s.get(&format!("/guilds/{guild}"), &owner.auth).await).body;
        let roles = g["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_owned(),
                    bits(&r["permissions"]),
                )
            })
            .collect();
        let list = s
            .get(&format!("/guilds/{guild}/members?limit=1000"), &owner.auth)
            .await;
        let members = ok(list)
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let roles = m["roles"].as_array().unwrap();
                let roles = roles
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                (m["user"]["id"].as_str().unwrap().to_owned(), roles)
            })
            .collect();
        let listed = ok(s
            .get(&format!("/guilds/{guild}/channels"), &owner.auth)
            .await);
        let channels = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let overwrites = c["permission_overwrites"].as_array().unwrap();
                let overwrites = overwrites
                    .iter()
                    .map(|o| {
                        let id = o["id"].as_str().unwrap().to_owned();
                        (
                            id,
                            o["type"].as_u64().unwrap(),
                            bits(&o["allow"]),
                            bits(&o["deny"]),
                        )
                    })
                    .collect();
                (c["id"].as_str().unwrap().to_owned(), overwrites)
            })
            .collect();
        State {
            owner: g["owner_id"].as_str().unwrap().to_owned(),
            roles,
            members,
            channels,
            everyone: guild.to_owned(),
        }
    }

    /// Guild-wide permissions, Discord's way.
    fn base(&self, user: &str) -> u64 {
        let Some(roles) = self.members.get(user) else {
            return 0;
        };
        if user == self.owner {
            return ALL;
        }
        let mut p = self.roles.get(&self.everyone).copied().unwrap_or(0);
        for role in roles {
            p |= self.roles.get(role).copied().unwrap_or(0);
        }
        if p & ADMINISTRATOR != 0 { ALL } else { p }
    }

    /// Permissions in a channel; in one this state does not have, those of
    /// a channel without overwrites.
    fn in_channel(&self, user: &str, channel: &str) -> u64 {
        let Some(roles) = self.members.get(user) else {
            return 0;
        };
        let base = self.base(user);
        if base & ADMINISTRATOR != 0 {
            return ALL;
        }
        let none = Vec::new();
        let overwrites = self.channels.get(channel).unwrap_or(&none);
        let apply = |p: u64, allow: u64, deny: u64| (p & !deny) | allow;
        let mut p = base;
        if let Some((_, _, a, d)) = overwrites.iter().find(|o| o.1 == 0 && o.0 == self.everyone) {
            p = apply(p, *a, *d);
        }
        let (mut allow, mut deny) = (0, 0);
        for (_, _, a, d) in overwrites
            .iter()
            .filter(|o| o.1 == 0 && roles.contains(&o.0))
        {
            allow |= a;
            deny |= d;
        }
        p = apply(p, allow, deny);
        for (_, _, a, d) in overwrites.iter().filter(|o| o.1 == 1 && o.0 == user) {
            p = apply(p, *a, *d);
        }
        if p & VIEW_CHANNEL == 0 {
            return 0;
        }
        if p & SEND_MESSAGES == 0 {
            p &= !(MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS);
        }
        p
    }
}

/// Nobody gained, anywhere, a bit `caller` did not hold there before.
fn assert_no_escalation(attack: Attack, caller: &Account, before: &State, after: &State) {
    assert_eq!(
        after.owner, before.owner,
        "{attack:?} by {}: ownership moved",
        caller.id
    );
    let held = before.base(&caller.id);
    for user in after.members.keys() {
        let gained = after.base(user) & !before.base(user);
        assert_eq!(
            gained & !held,
            0,
            "{attack:?} by {}: {user} gained guild bits {:#x} the caller lacks",
            caller.id,
            gained & !held
        );
        for channel in after.channels.keys() {
            let held = before.in_channel(&caller.id, channel);
            let gained = after.in_channel(user, channel) & !before.in_channel(user, channel);
            assert_eq!(
                gained & !held,
                0,
                "{attack:?} by {}: {user} gained {:#x} in {channel}, which the caller lacks there",
                caller.id,
                gained & !held
            );
        }
    }
}

#[tokio::test]
async fn no_route_grants_a_bit_the_caller_lacks() {
    let s = server();
    let cast = Cast::new(&s).await;
    for attack in ATTACKS {
        let g = cast.guild(&s).await;
        for caller in cast.callers() {
            let before = State::read(&s, &cast.owner, &g.id).await;
            let replies = cast.attempt(&s, &g, caller, attack).await;
            for r in &replies {
                assert!(r.status < 500, "{attack:?} by {}: {:?}", caller.id, r.body);
            }
            if caller.id == cast.owner.id && owner_may(attack) {
                // The attack is a real request: the owner's succeeds.
                for r in &replies {
                    assert!(r.status < 300, "{attack:?} by the owner: {:?}", r.body);
                }
            }
            if cast.privileged(caller) {
                continue;
            }
            let after = State::read(&s, &cast.owner, &g.id).await;
            assert_no_escalation(attack, caller, &before, &after);
        }
    }
}
