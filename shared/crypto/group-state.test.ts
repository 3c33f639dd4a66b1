import { beforeAll, describe, expect, it } from 'vitest';
import { encodeContent } from '../wire/content';
import { MAX_ENVELOPE_BODY_BYTES } from '../wire/limits';
import { type Bytes, toBase64Url, toHex } from './bytes';
import {
  applyGroupChange,
  applyJoiningChange,
  createGroup,
  decodeGroupStateEntry,
  decodeSignedGroupChange,
  encodeGroupStateEntry,
  encodeSignedGroupChange,
  type GroupChange,
  type GroupChangeAuthor,
  type GroupState,
  groupChangeAuthor,
  signGroupChange,
  type SignedGroupChange,
} from './group-state';
import {
  MAX_GROUP_ADMINS,
  MAX_GROUP_CHANGE_USERS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
} from './limits';
import { generateEd25519KeyPair, type KeyPair } from './primitives';
import { seededRandom } from './test-support/deterministic-random';

const NOW = 1_750_000_000_000;
const GROUP_ID = new Uint8Array(16).fill(0x42);
/** A user id of the maximum length, 32 characters. */
const LONG_ID = 'a'.repeat(32);

/** Returns `count` distinct user ids of 32 characters. */
function longIds(prefix: string, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `${prefix}${String(i).padStart(31 - prefix.length, '0')}x`,
  );
}

interface Person extends GroupChangeAuthor {
  readonly keys: KeyPair;
}

const people = new Map<string, Person>();

function person(userId: string): Person {
  const found = people.get(userId);
  if (found === undefined) throw new Error(`no test person ${userId}`);
  return found;
}

beforeAll(async () => {
  const random = seededRandom('group-state');
  for (const userId of ['alice', 'bob', 'carol', 'dave', 'eve', LONG_ID]) {
    const keys = await generateEd25519KeyPair(random, { extractable: false });
    people.set(userId, { userId, identityKey: keys.privateKey, keys });
  }
});

/** Verifies with the pinned key of the user the entry names as author. */
function apply(
  state: GroupState | undefined,
  signed: SignedGroupChange,
): Promise<GroupState> {
  const author = person(groupChangeAuthor(signed));
  return applyGroupChange(state, signed, author.keys.publicKey);
}

async function created(): Promise<GroupState> {
  const signed = await createGroup(
    GROUP_ID,
    'Hikers',
    ['bob', 'carol'],
    person('alice'),
    NOW,
  );
  return apply(undefined, signed);
}

async function change(
  state: GroupState,
  by: string,
  groupChange: GroupChange,
): Promise<{ signed: SignedGroupChange; state: GroupState }> {
  const signed = await signGroupChange(
    state,
    groupChange,
    person(by),
    NOW + state.version,
  );
  return { signed, state: await apply(state, signed) };
}

/** Re-signs an edited entry with `by`'s identity key. */
async function resign(
  signed: SignedGroupChange,
  by: string,
  edit: (entry: ReturnType<typeof decodeGroupStateEntry>) => object,
): Promise<SignedGroupChange> {
  const entry = { ...decodeGroupStateEntry(signed.entry) };
  const edited = encodeGroupStateEntry({ ...entry, ...edit(entry) });
  const signature = new Uint8Array(
    await globalThis.crypto.subtle.sign(
      'Ed25519',
      person(by).identityKey,
      new Uint8Array([
        ...new TextEncoder().encode('Cloak-v1/sig/group-state'),
        0,
        ...edited,
      ]),
    ),
  );
  return { entry: edited, signature };
}

describe('group creation', () => {
  it('makes the creator the only admin', async () => {
    const state = await created();
    expect(state.version).toBe(1);
    expect(state.members).toEqual(['alice', 'bob', 'carol']);
    expect(state.admins).toEqual(['alice']);
    expect(state.name).toBe('Hikers');
  });

  it('matches the frozen entry hash', async () => {
    const state = await created();
    expect(toHex(state.hash)).toBe(
      'eb2a725a0953be65132e653248dacf3a6eb706bef12f91f17f99a7f3dab5179f',
    );
  });

  it('rejects a creation signed by another key', async () => {
    const signed = await createGroup(
      GROUP_ID,
      'Hikers',
      ['bob'],
      person('alice'),
      NOW,
    );
    await expect(
      applyGroupChange(undefined, signed, person('bob').keys.publicKey),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid-signature' }));
  });

  it('rejects a creation with other admins', async () => {
    const signed = await createGroup(
      GROUP_ID,
      'Hikers',
      ['bob'],
      person('alice'),
      NOW,
    );
    const forged = await resign(signed, 'alice', () => ({
      admins: ['alice', 'bob'],
    }));
    await expect(apply(undefined, forged)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-message' }),
    );
  });
});

describe('group changes', () => {
  it('applies add, remove and rename', async () => {
    let state = await created();
    ({ state } = await change(state, 'alice', {
      type: 'add',
      userIds: ['dave'],
    }));
    expect(state.members).toEqual(['alice', 'bob', 'carol', 'dave']);
    ({ state } = await change(state, 'alice', {
      type: 'remove',
      userIds: ['bob'],
    }));
    expect(state.members).toEqual(['alice', 'carol', 'dave']);
    ({ state } = await change(state, 'alice', {
      type: 'rename',
      name: 'Climbers',
    }));
    expect(state.name).toBe('Climbers');
    expect(state.version).toBe(4);
  });

  it('lets a promoted member change it', async () => {
    let state = await created();
    ({ state } = await change(state, 'alice', {
      type: 'promote',
      userIds: ['bob'],
    }));
    expect(state.admins).toEqual(['alice', 'bob']);
    ({ state } = await change(state, 'bob', {
      type: 'add',
      userIds: ['dave'],
    }));
    expect(state.members).toContain('dave');
    ({ state } = await change(state, 'bob', {
      type: 'demote',
      userIds: ['alice'],
    }));
    expect(state.admins).toEqual(['bob']);
    await expect(
      signGroupChange(state, { type: 'leave' }, person('alice'), NOW),
    ).resolves.toBeDefined();
    await expect(
      signGroupChange(
        state,
        { type: 'rename', name: 'Mine' },
        person('alice'),
        NOW,
      ),
    ).rejects.toThrow(expect.objectContaining({ code: 'unauthorized-change' }));
  });

  it('rejects demoting the last admin', async () => {
    const state = await created();
    await expect(
      signGroupChange(
        state,
        { type: 'demote', userIds: ['alice'] },
        person('alice'),
        NOW,
      ),
    ).rejects.toThrow(expect.objectContaining({ code: 'invalid-message' }));
  });

  it('rejects a promote by a non-admin', async () => {
    const state = await created();
    const { signed } = await change(state, 'alice', {
      type: 'promote',
      userIds: ['carol'],
    });
    const byBob = await resign(signed, 'bob', () => ({
      author: 'bob',
      admins: ['alice', 'bob'],
      change: { type: 'promote', userIds: ['bob'] },
    }));
    await expect(apply(state, byBob)).rejects.toThrow(
      expect.objectContaining({ code: 'unauthorized-change' }),
    );
  });

  it('accepts leave by self', async () => {
    const { state } = await change(await created(), 'carol', {
      type: 'leave',
    });
    expect(state.members).toEqual(['alice', 'bob']);
  });

  it('rejects an unsigned change', async () => {
    const state = await created();
    const { signed } = await change(state, 'alice', {
      type: 'add',
      userIds: ['eve'],
    });
    const unsigned = { entry: signed.entry, signature: new Uint8Array(64) };
    await expect(apply(state, unsigned)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-signature' }),
    );
  });

  it('rejects a change signed by another key', async () => {
    const state = await created();
    const { signed } = await change(state, 'alice', {
      type: 'add',
      userIds: ['eve'],
    });
    // The relay, or anyone, signs an entry that names Alice as author.
    const forged = await resign(signed, 'eve', () => ({}));
    await expect(apply(state, forged)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-signature' }),
    );
  });

  it('rejects a change by a non-admin', async () => {
    const state = await created();
    const { signed } = await change(state, 'alice', {
      type: 'add',
      userIds: ['eve'],
    });
    const byBob = await resign(signed, 'bob', () => ({ author: 'bob' }));
    await expect(apply(state, byBob)).rejects.toThrow(
      expect.objectContaining({ code: 'unauthorized-change' }),
    );
    await expect(
      signGroupChange(
        state,
        { type: 'add', userIds: ['eve'] },
        person('bob'),
        NOW,
      ),
    ).rejects.toThrow(expect.objectContaining({ code: 'unauthorized-change' }));
  });

  it('rejects a change by a non-member', async () => {
    const state = await created();
    const { signed } = await change(state, 'carol', { type: 'leave' });
    const byEve = await resign(signed, 'eve', () => ({ author: 'eve' }));
    await expect(apply(state, byEve)).rejects.toThrow(
      expect.objectContaining({ code: 'unauthorized-change' }),
    );
  });

  it('rejects members the change does not produce', async () => {
    const state = await created();
    const { signed } = await change(state, 'alice', {
      type: 'add',
      userIds: ['dave'],
    });
    // Alice's entry says "add dave" but lists eve as a member too.
    const padded = await resign(signed, 'alice', () => ({
      members: ['alice', 'bob', 'carol', 'dave', 'eve'],
    }));
    await expect(apply(state, padded)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-message' }),
    );
  });

  it('rejects a leave that removes others', async () => {
    const state = await created();
    const { signed } = await change(state, 'carol', { type: 'leave' });
    const greedy = await resign(signed, 'carol', () => ({
      members: ['alice'],
    }));
    await expect(apply(state, greedy)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-message' }),
    );
  });
});

describe('group-state log', () => {
  it('rejects a replayed change', async () => {
    const first = await created();
    const added = await change(first, 'alice', {
      type: 'add',
      userIds: ['dave'],
    });
    const removed = await change(added.state, 'alice', {
      type: 'remove',
      userIds: ['dave'],
    });
    // The relay sends the old "add dave" again after the removal.
    await expect(apply(removed.state, added.signed)).rejects.toThrow(
      expect.objectContaining({ code: 'replayed-group-change' }),
    );
    await expect(apply(removed.state, removed.signed)).rejects.toThrow(
      expect.objectContaining({ code: 'replayed-group-change' }),
    );
  });

  it('rejects a forked change', async () => {
    const first = await created();
    const ours = await change(first, 'alice', {
      type: 'add',
      userIds: ['dave'],
    });
    const theirs = await change(first, 'alice', {
      type: 'add',
      userIds: ['eve'],
    });
    const next = await change(theirs.state, 'alice', {
      type: 'rename',
      name: 'Fork',
    });
    await expect(apply(ours.state, theirs.signed)).rejects.toThrow(
      expect.objectContaining({ code: 'forked-group-state' }),
    );
    await expect(apply(ours.state, next.signed)).rejects.toThrow(
      expect.objectContaining({ code: 'forked-group-state' }),
    );
  });

  it('rejects a skipped version', async () => {
    const first = await created();
    const second = await change(first, 'alice', {
      type: 'add',
      userIds: ['dave'],
    });
    const third = await change(second.state, 'alice', {
      type: 'add',
      userIds: ['eve'],
    });
    await expect(apply(first, third.signed)).rejects.toThrow(
      expect.objectContaining({ code: 'missing-group-change' }),
    );
  });

  it('rejects a change for another group', async () => {
    const state = await created();
    const { signed } = await change(state, 'alice', { type: 'leave' });
    const other = await resign(signed, 'alice', () => ({
      groupId: new Uint8Array(16).fill(0x43),
    }));
    await expect(apply(state, other)).rejects.toThrow(
      expect.objectContaining({ code: 'invalid-message' }),
    );
  });
});

describe('signed change encoding', () => {
  it('round-trips through bytes', async () => {
    const signed = await createGroup(
      GROUP_ID,
      'Hikers',
      ['bob'],
      person('alice'),
      NOW,
    );
    const decoded = decodeSignedGroupChange(encodeSignedGroupChange(signed));
    const state = await apply(undefined, decoded);
    expect(state.members).toEqual(['alice', 'bob']);
  });

  it('rejects unsorted members', async () => {
    const signed = await createGroup(
      GROUP_ID,
      'Hikers',
      ['bob'],
      person('alice'),
      NOW,
    );
    const entry = decodeGroupStateEntry(signed.entry);
    const unsorted: Bytes = encodeGroupStateEntry({
      ...entry,
      members: ['bob', 'alice'],
    });
    expect(() => decodeGroupStateEntry(unsorted)).toThrow(
      expect.objectContaining({ code: 'invalid-message' }),
    );
  });
});

describe('joining a group', () => {
  /** Alice's group after she added dave, as dave receives it. */
  async function addDave() {
    const before = await created();
    return change(before, 'alice', { type: 'add', userIds: ['dave'] });
  }

  it('starts from the entry that adds us', async () => {
    const { signed, state } = await addDave();
    const joined = await applyJoiningChange(
      signed,
      person('alice').keys.publicKey,
      'dave',
    );
    expect(joined).toEqual(state);

    const next = await signGroupChange(
      joined,
      { type: 'rename', name: 'Climbers' },
      person('alice'),
      NOW,
    );
    expect((await apply(joined, next)).name).toBe('Climbers');
  });

  it('rejects an entry signed by another key', async () => {
    const { signed } = await addDave();
    await expect(
      applyJoiningChange(signed, person('bob').keys.publicKey, 'dave'),
    ).rejects.toMatchObject({ code: 'invalid-signature' });
  });

  it('rejects an entry that adds someone else', async () => {
    const { signed } = await addDave();
    await expect(
      applyJoiningChange(signed, person('alice').keys.publicKey, 'eve'),
    ).rejects.toMatchObject({ code: 'invalid-message' });
  });

  it('rejects an entry by a non-admin', async () => {
    const { signed } = await addDave();
    const forged = await resign(signed, 'bob', () => ({ author: 'bob' }));
    await expect(
      applyJoiningChange(forged, person('bob').keys.publicKey, 'dave'),
    ).rejects.toMatchObject({ code: 'unauthorized-change' });
  });

  it('rejects an entry that omits the added member', async () => {
    const { signed } = await addDave();
    const forged = await resign(signed, 'alice', (entry) => ({
      members: entry.members.filter((member) => member !== 'dave'),
    }));
    await expect(
      applyJoiningChange(forged, person('alice').keys.publicKey, 'dave'),
    ).rejects.toMatchObject({ code: 'invalid-message' });
  });
});

describe('entry size', () => {
  it('fits the largest entry in one envelope', async () => {
    const added = longIds('n', MAX_GROUP_CHANGE_USERS);
    const admins = [LONG_ID, ...longIds('b', MAX_GROUP_ADMINS - 1)];
    const others = longIds(
      'm',
      MAX_GROUP_MEMBERS - added.length - admins.length,
    );
    const state: GroupState = {
      groupId: GROUP_ID,
      version: 7,
      hash: new Uint8Array(32),
      name: 'n'.repeat(MAX_GROUP_NAME_BYTES),
      members: [...admins, ...others].sort(),
      admins: [...admins].sort(),
    };
    const signed = await signGroupChange(
      state,
      { type: 'add', userIds: added },
      person(LONG_ID),
      NOW,
    );
    const entry = decodeGroupStateEntry(signed.entry);
    expect(entry.members).toHaveLength(MAX_GROUP_MEMBERS);

    // The content carries the entry as base64url inside JSON.
    const content = encodeContent({
      v: 1,
      type: 'group-change',
      groupId: 'A'.repeat(22),
      change: toBase64Url(encodeSignedGroupChange(signed)),
    });
    // Session set-up (about 1.4 KB with the ML-KEM ciphertext), ratchet
    // header, padding and AEAD tag must still fit beside it.
    expect(content.length).toBeLessThan(MAX_ENVELOPE_BODY_BYTES - 8 * 1024);
  });

  it('rejects more admins than allowed', async () => {
    const admins = [LONG_ID, ...longIds('b', MAX_GROUP_ADMINS - 1)];
    const state: GroupState = {
      groupId: GROUP_ID,
      version: 2,
      hash: new Uint8Array(32),
      name: 'Hikers',
      members: [...admins, 'bob'].sort(),
      admins: [...admins].sort(),
    };
    await expect(
      signGroupChange(
        state,
        { type: 'promote', userIds: ['bob'] },
        person(LONG_ID),
        NOW,
      ),
    ).rejects.toMatchObject({ code: 'invalid-message' });
  });
});
