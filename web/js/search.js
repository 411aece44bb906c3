// The search box's language without the DOM: Discord's filters
// (`from:`, `mentions:`, `has:`, `in:`, `before:`, `after:`, `pinned:`)
// picked out of the text, names resolved to ids by the caller's lookups,
// dates turned into the snowflake bounds the search route takes.

const DISCORD_EPOCH = 1420070400000n;
const FILTER = /(^|\s)(from|mentions|has|in|before|after|during|pinned):(?:"([^"]*)"|(\S+))/g;
export const HAS = ['link', 'embed', 'file', 'video', 'image', 'sound', 'sticker', 'poll', 'snapshot'];

/** The smallest snowflake made at `ms` (Unix milliseconds). */
export function snowflakeAt(ms) {
  return String((BigInt(Math.max(0, Math.floor(ms))) - DISCORD_EPOCH) << 22n);
}

/** `{content, filters: [{key, value}]}` from what was typed. */
export function parseSearch(text) {
  const filters = [];
  const content = String(text)
    .replace(FILTER, (_all, lead, key, quoted, bare) => {
      filters.push({ key, value: quoted ?? bare });
      return lead;
    })
    .replace(/\s+/g, ' ')
    .trim();
  return { content, filters };
}

/** Start of a `YYYY-MM-DD` day in UTC, or null. */
function day(value) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The search route's query for parsed text. `lookup.user(name)` and
 * `lookup.channel(name)` give an id or null. Returns `{query}` or
 * `{error}` naming the filter that cannot be used.
 */
export function searchQuery({ content, filters }, lookup) {
  const query = {};
  const add = (key, value) => (query[key] = [...(query[key] ?? []), value]);
  if (content) query.content = content;
  for (const { key, value } of filters) {
    switch (key) {
      case 'from':
      case 'mentions': {
        const id = /^\d+$/.test(value) ? value : lookup.user(value.replace(/^@/, ''));
        if (!id) return { error: `No member named ${value}.` };
        add(key === 'from' ? 'author_id' : 'mentions', id);
        break;
      }
      case 'in': {
        const id = lookup.channel(value.replace(/^#/, ''));
        if (!id) return { error: `No channel named ${value}.` };
        add('channel_id', id);
        break;
      }
      case 'has': {
        const name = value.replace(/^-/, '');
        if (!HAS.includes(name)) return { error: `has: takes one of ${HAS.join(', ')}.` };
        add('has', value);
        break;
      }
      case 'before':
      case 'after':
      case 'during': {
        const start = day(value);
        if (start === null) return { error: `${key}: takes a date as YYYY-MM-DD.` };
        if (key === 'before') query.max_id = snowflakeAt(start);
        else if (key === 'after') query.min_id = snowflakeAt(start + 86_400_000);
        else {
          query.min_id = snowflakeAt(start);
          query.max_id = snowflakeAt(start + 86_400_000);
        }
        break;
      }
      default:
        if (value !== 'true' && value !== 'false') return { error: 'pinned: takes true or false.' };
        query.pinned = value;
    }
  }
  if (!Object.keys(query).length) return { error: 'Type something to search for.' };
  return { query };
}
