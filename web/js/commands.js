// Slash commands without the DOM: which commands match what the person
// typed after `/`, a command's subcommands flattened into entries as
// Discord's client lists them, and the `data` of the interaction built
// from the values filled in (typed and checked as the option asks).

/** Option types, as Discord numbers them. */
export const OPTION = {
  SUB_COMMAND: 1,
  SUB_COMMAND_GROUP: 2,
  STRING: 3,
  INTEGER: 4,
  BOOLEAN: 5,
  USER: 6,
  CHANNEL: 7,
  ROLE: 8,
  MENTIONABLE: 9,
  NUMBER: 10,
  ATTACHMENT: 11,
};

/** Interaction types a person sends. */
export const INTERACTION = { COMMAND: 2, COMPONENT: 3, AUTOCOMPLETE: 4, MODAL_SUBMIT: 5 };

const isSub = (o) => o.type === OPTION.SUB_COMMAND || o.type === OPTION.SUB_COMMAND_GROUP;

/**
 * The invocable entries of chat-input commands: a command without
 * subcommands is one entry; one with subcommands (and groups) gives one
 * per subcommand, its `path` the names under the command.
 */
export function commandEntries(commands, applications = []) {
  const appName = new Map(applications.map((a) => [a.id, a.name]));
  const out = [];
  for (const command of commands) {
    if ((command.type ?? 1) !== 1) continue;
    const base = { command, application: appName.get(command.application_id) ?? '' };
    const options = command.options ?? [];
    if (!options.some(isSub)) {
      out.push({ ...base, path: [], options, description: command.description ?? '' });
      continue;
    }
    for (const sub of options) {
      if (sub.type === OPTION.SUB_COMMAND) {
        out.push({ ...base, path: [sub.name], options: sub.options ?? [], description: sub.description ?? '' });
      } else if (sub.type === OPTION.SUB_COMMAND_GROUP) {
        for (const leaf of sub.options ?? []) {
          out.push({ ...base, path: [sub.name, leaf.name], options: leaf.options ?? [], description: leaf.description ?? '' });
        }
      }
    }
  }
  return out;
}

/** The name an entry is typed and shown as: `name sub`. */
export function entryName(entry) {
  return [entry.command.name, ...entry.path].join(' ');
}

/**
 * The entries matching what follows `/` in the composer (`/gre` or
 * `/greet hel`), names starting with it first, then names containing it.
 * Null when the text is not a command being typed.
 */
export function matchEntries(entries, text) {
  if (!text.startsWith('/') || text.includes('\n')) return null;
  const typed = text.slice(1).toLowerCase().trimStart();
  const starts = [];
  const contains = [];
  for (const entry of entries) {
    const name = entryName(entry).toLowerCase();
    if (name.startsWith(typed)) starts.push(entry);
    else if (typed && name.includes(typed)) contains.push(entry);
  }
  const byName = (a, b) => entryName(a).localeCompare(entryName(b));
  return [...starts.sort(byName), ...contains.sort(byName)].slice(0, 25);
}

/**
 * One option's value from the text of its field, as its type wants it;
 * `{value}` or `{error}`, and `{}` for an empty optional field.
 */
export function optionValue(option, raw) {
  const text = String(raw ?? '').trim();
  if (!text) return option.required ? { error: `${option.name} is required.` } : {};
  switch (option.type) {
    case OPTION.INTEGER:
    case OPTION.NUMBER: {
      const n = Number(text);
      if (!Number.isFinite(n) || (option.type === OPTION.INTEGER && !Number.isInteger(n))) {
        return { error: `${option.name} must be ${option.type === OPTION.INTEGER ? 'a whole number' : 'a number'}.` };
      }
      if (option.min_value != null && n < option.min_value) return { error: `${option.name} must be at least ${option.min_value}.` };
      if (option.max_value != null && n > option.max_value) return { error: `${option.name} must be at most ${option.max_value}.` };
      return { value: n };
    }
    case OPTION.BOOLEAN:
      if (text !== 'true' && text !== 'false') return { error: `${option.name} must be true or false.` };
      return { value: text === 'true' };
    case OPTION.STRING: {
      const length = [...text].length;
      if (option.min_length != null && length < option.min_length) return { error: `${option.name} needs at least ${option.min_length} characters.` };
      if (option.max_length != null && length > option.max_length) return { error: `${option.name} takes at most ${option.max_length} characters.` };
      return { value: text };
    }
    case OPTION.USER:
    case OPTION.CHANNEL:
    case OPTION.ROLE:
    case OPTION.MENTIONABLE:
      if (!/^\d{1,20}$/.test(text)) return { error: `${option.name}: pick one from the list.` };
      return { value: text };
    default:
      return { error: `${option.name}: this kind of option is not supported here.` };
  }
}

/**
 * The `data` of an application command interaction for `entry` with the
 * field texts `values` (by option name). `focused` names the option being
 * typed for an autocomplete request: its text goes as typed, unchecked.
 * Returns `{data}` or `{errors}` (by option name).
 */
export function buildCommandData(entry, values, { focused = null } = {}) {
  const errors = {};
  const options = [];
  for (const option of entry.options) {
    if (option.name === focused) {
      options.push({ type: option.type, name: option.name, value: String(values[option.name] ?? ''), focused: true });
      continue;
    }
    const { value, error } = optionValue(option, values[option.name]);
    if (error && !focused) errors[option.name] = error;
    else if (value !== undefined) options.push({ type: option.type, name: option.name, value });
  }
  if (Object.keys(errors).length) return { errors };
  let nested = options;
  const path = [...entry.path];
  if (path.length === 2) nested = [{ type: OPTION.SUB_COMMAND_GROUP, name: path[0], options: [{ type: OPTION.SUB_COMMAND, name: path[1], options }] }];
  else if (path.length === 1) nested = [{ type: OPTION.SUB_COMMAND, name: path[0], options }];
  const { command } = entry;
  const data = { version: command.version, id: command.id, name: command.name, type: command.type ?? 1, options: nested };
  if (command.guild_id) data.guild_id = command.guild_id;
  return { data };
}

/** A nonce for an interaction: digits, unique enough per session. */
export function interactionNonce() {
  return String(BigInt(Date.now()) * 1000000n + BigInt(Math.floor(Math.random() * 1e6)));
}
