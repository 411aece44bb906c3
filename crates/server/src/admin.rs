//! `concord user|token|guild|stats`: instance administration through the
//! running server's admin API (see [`crate::control`]).

use std::io::BufRead;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use crate::control::Control;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// List every account: id, username, flags and email.
    List,
    /// Create an account; prints the generated password unless --password-stdin.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Make the account an instance administrator
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (generated and printed unless --password-stdin);
    /// every session of the user is signed out.
    ResetPassword {
        /// User id, username or email
        user: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop an account from logging in; its tokens stop working.
    Disable {
        /// User id, username or email
        user: String,
    },
    /// Let a disabled account log in again.
    Enable {
        /// User id, username or email
        user: String,
    },
    /// Make an account an instance administrator.
    MakeAdmin {
        /// User id, username or email
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a new one-time registration token (works in every registration mode).
    Create,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GuildCommand {
    /// List every guild: id, members, owner and name.
    List,
    /// Delete a guild with all its channels and messages.
    Delete {
        /// Guild id
        guild_id: String,
    },
}

fn read_password(from_stdin: bool) -> Result<Option<String>, String> {
    if !from_stdin {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    match password.is_empty() {
        true => Err("no password on standard input".into()),
        false => Ok(Some(password)),
    }
}

/// `id  username  [flags]  email`
fn user_line(user: &Value) -> String {
    let flags: Vec<&str> = ["admin", "disabled", "bot"]
        .into_iter()
        .filter(|flag| user[*flag].as_bool() == Some(true))
        .collect();
    format!(
        "{:<20} {:<32} {:<16} {}",
        user["id"].as_str().unwrap_or_default(),
        user["username"].as_str().unwrap_or_default(),
        flags.join(","),
        user["email"].as_str().unwrap_or_default()
    )
}

/// Pages through a listing by id.
async fn list_all(control: &Control, path: &str) -> Result<Vec<Value>, String> {
    let mut all = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let page = control
            .call(
                Method::GET,
                &format!("{path}?limit=1000&after={after}"),
                None,
            )
            .await?;
        let items = page.as_array().cloned().unwrap_or_default();
        let done = items.len() < 1000;
        if let Some(last) = items.last() {
            after = last["id"].as_str().unwrap_or_default().to_owned();
        }
        all.extend(items);
        if done {
            return Ok(all);
        }
    }
}

fn path_segment(user: &str) -> String {
    user.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

pub(crate) async fn user(control: &Control, command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::List => {
            for user in list_all(control, "/admin/users").await? {
                println!("{}", user_line(&user));
            }
        }
        UserCommand::Create {
            username,
            email,
            admin,
            password_stdin,
        } => {
            let body = json!({
                "username": username,
                "email": email,
                "admin": admin,
                "password": read_password(password_stdin)?,
            });
            let created = control
                .call(Method::POST, "/admin/users", Some(body))
                .await?;
            println!("created {}", user_line(&created["user"]));
            if let Some(password) = created["password"].as_str() {
                println!("password: {password}");
            }
        }
        UserCommand::ResetPassword {
            user,
            password_stdin,
        } => {
            let body = json!({ "password": read_password(password_stdin)? });
            let path = format!("/admin/users/{}/password", path_segment(&user));
            let reset = control.call(Method::POST, &path, Some(body)).await?;
            println!("password reset for {}", user_line(&reset["user"]));
            if let Some(password) = reset["password"].as_str() {
                println!("password: {password}");
            }
        }
        UserCommand::Disable { user } => {
            patch_user(control, &user, json!({ "disabled": true })).await?
        }
        UserCommand::Enable { user } => {
            patch_user(control, &user, json!({ "disabled": false })).await?
        }
        UserCommand::MakeAdmin { user } => {
            patch_user(control, &user, json!({ "admin": true })).await?
        }
    }
    Ok(())
}

async fn patch_user(control: &Control, user: &str, body: Value) -> Result<(), String> {
    let path = format!("/admin/users/{}", path_segment(user));
    let patched = control.call(Method::PATCH, &path, Some(body)).await?;
    println!("{}", user_line(&patched));
    Ok(())
}

pub(crate) async fn token(control: &Control, command: TokenCommand) -> Result<(), String> {
    match command {
        TokenCommand::Create => {
            let created = control
                .call(Method::POST, "/admin/registration-tokens", None)
                .await?;
            println!("{}", created["token"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}

pub(crate) async fn guild(control: &Control, command: GuildCommand) -> Result<(), String> {
    match command {
        GuildCommand::List => {
            for guild in list_all(control, "/admin/guilds").await? {
                println!(
                    "{:<20} {:>8} members  owner {:<20} {}",
                    guild["id"].as_str().unwrap_or_default(),
                    guild["member_count"],
                    guild["owner_id"].as_str().unwrap_or_default(),
                    guild["name"].as_str().unwrap_or_default()
                );
            }
        }
        GuildCommand::Delete { guild_id } => {
            let path = format!("/admin/guilds/{}", path_segment(&guild_id));
            control.call(Method::DELETE, &path, None).await?;
            println!("deleted guild {guild_id}");
        }
    }
    Ok(())
}

pub(crate) async fn stats(control: &Control) -> Result<(), String> {
    let stats = control.call(Method::GET, "/admin/stats", None).await?;
    for (key, value) in stats.as_object().into_iter().flatten() {
        println!("{key}: {value}");
    }
    Ok(())
}
