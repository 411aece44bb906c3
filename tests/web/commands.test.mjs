// The slash command logic: entries (subcommands flattened), matching what
// is typed, option values typed and checked, and the interaction's data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPTION, buildCommandData, commandEntries, entryName, matchEntries, optionValue } from '../../web/js/commands.js';

const apps = [{ id: '9', name: 'Helper' }];
const commands = [
  { id: '1', application_id: '9', version: '11', type: 1, name: 'ping', description: 'Pong' },
  {
    id: '2', application_id: '9', version: '12', type: 1, name: 'greet', description: 'Greets',
    options: [
      { type: OPTION.STRING, name: 'who', description: 'Whom', required: true, max_length: 5 },
      { type: OPTION.INTEGER, name: 'times', description: 'How often', min_value: 1, max_value: 3 },
      { type: OPTION.BOOLEAN, name: 'loud', description: 'Loudly' },
    ],
  },
  {
    id: '3', application_id: '9', version: '13', type: 1, name: 'admin', description: 'Admin', guild_id: '77',
    options: [
      { type: OPTION.SUB_COMMAND, name: 'kick', description: 'Kick', options: [{ type: OPTION.USER, name: 'user', description: 'u', required: true }] },
      { type: OPTION.SUB_COMMAND_GROUP, name: 'role', description: 'Roles', options: [{ type: OPTION.SUB_COMMAND, name: 'add', description: 'Add role' }] },
    ],
  },
  { id: '4', application_id: '9', version: '14', type: 2, name: 'Profile' },
];

test('subcommands become entries of their own; context menu commands are left out', () => {
  const entries = commandEntries(commands, apps);
  assert.deepEqual(entries.map(entryName), ['ping', 'greet', 'admin kick', 'admin role add']);
  assert.equal(entries[0].application, 'Helper');
  assert.equal(entries[2].description, 'Kick');
});

test('what follows the slash picks entries, prefixes first', () => {
  const entries = commandEntries(commands, apps);
  assert.equal(matchEntries(entries, 'hello'), null);
  assert.deepEqual(matchEntries(entries, '/').map(entryName), ['admin kick', 'admin role add', 'greet', 'ping']);
  assert.deepEqual(matchEntries(entries, '/adm').map(entryName), ['admin kick', 'admin role add']);
  assert.deepEqual(matchEntries(entries, '/ick').map(entryName), ['admin kick']);
  assert.deepEqual(matchEntries(entries, '/nothing'), []);
});

test('option values are typed and checked against their bounds', () => {
  const [who, times, loud] = commands[1].options;
  assert.deepEqual(optionValue(who, ''), { error: 'who is required.' });
  assert.deepEqual(optionValue(who, ' Ann '), { value: 'Ann' });
  assert.match(optionValue(who, 'Annabel').error, /at most 5/);
  assert.deepEqual(optionValue(times, ''), {});
  assert.deepEqual(optionValue(times, '2'), { value: 2 });
  assert.match(optionValue(times, '2.5').error, /whole number/);
  assert.match(optionValue(times, '9').error, /at most 3/);
  assert.deepEqual(optionValue(loud, 'true'), { value: true });
  assert.match(optionValue({ type: OPTION.USER, name: 'u' }, 'bob').error, /pick one/);
});

test('the data nests subcommands and carries the command id and version', () => {
  const entries = commandEntries(commands, apps);
  const greet = buildCommandData(entries[1], { who: 'Ann', times: '2' });
  assert.deepEqual(greet.data, {
    version: '12', id: '2', name: 'greet', type: 1,
    options: [{ type: 3, name: 'who', value: 'Ann' }, { type: 4, name: 'times', value: 2 }],
  });
  assert.deepEqual(buildCommandData(entries[1], {}).errors, { who: 'who is required.' });
  const kick = buildCommandData(entries[2], { user: '42' }).data;
  assert.equal(kick.guild_id, '77');
  assert.deepEqual(kick.options, [{ type: 1, name: 'kick', options: [{ type: 6, name: 'user', value: '42' }] }]);
  const add = buildCommandData(entries[3], {}).data;
  assert.deepEqual(add.options, [{ type: 2, name: 'role', options: [{ type: 1, name: 'add', options: [] }] }]);
});

test('autocomplete sends the typed text of the focused option, unchecked', () => {
  const entries = commandEntries(commands, apps);
  const { data } = buildCommandData(entries[1], { who: 'An', times: '7' }, { focused: 'who' });
  assert.deepEqual(data.options[0], { type: 3, name: 'who', value: 'An', focused: true });
  // Other fields are not refused while one is being typed.
  assert.equal(data.options.length, 1);
});
