import { type FormEvent, useId, useState } from 'react';

export interface GroupPanelProps {
  /** The group's name in the verified state. */
  readonly name: string;
  /** User ids of the verified member list, sorted. */
  readonly members: readonly string[];
  readonly admins: readonly string[];
  /** Our own user id. */
  readonly self: string;
  /** False once we left or were removed. */
  readonly isMember: boolean;
  readonly isAdmin: boolean;
  /** Resolves to true when the member was added, so the field clears. */
  readonly onAdd: (username: string) => Promise<boolean>;
  readonly onRemove: (userId: string) => void;
  /** Resolves to true when the group was renamed. */
  readonly onRename: (name: string) => Promise<boolean>;
  /** Makes a member an admin (`admin` true) or a plain member again. */
  readonly onSetAdmin: (userId: string, admin: boolean) => void;
  readonly onLeave: () => void;
}

/**
 * The members of a group as the signed membership log states them, with
 * the changes an admin may make and the way out.
 */
export function GroupPanel({
  name,
  members,
  admins,
  self,
  isMember,
  isAdmin,
  onAdd,
  onRemove,
  onRename,
  onSetAdmin,
  onLeave,
}: GroupPanelProps) {
  const [username, setUsername] = useState('');
  const [busy, setBusy] = useState(false);
  const inputId = useId();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || username.trim() === '') return;
    setBusy(true);
    try {
      if (await onAdd(username)) setUsername('');
    } finally {
      setBusy(false);
    }
  }

  if (!isMember) {
    return (
      <div className="group-panel">
        <p>You are no longer a member of this group.</p>
      </div>
    );
  }

  return (
    <div className="group-panel">
      {isAdmin && (
        <>
          <form noValidate onSubmit={submit}>
            <label htmlFor={inputId}>Add member</label>
            <div className="row">
              <input
                id={inputId}
                name="member"
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                value={username}
                onChange={(event) => setUsername(event.target.value)}
              />
              <button type="submit" disabled={busy}>
                Add
              </button>
            </div>
          </form>
          {/* Keyed by name, so that a rename from elsewhere resets the field. */}
          <RenameForm key={name} name={name} onRename={onRename} />
        </>
      )}
      <ul aria-label="Members">
        {members.map((member) => {
          const memberIsAdmin = admins.includes(member);
          return (
            <li key={member}>
              <span dir="auto">{member}</span>
              {memberIsAdmin && <span className="admin"> (admin)</span>}
              {isAdmin && member !== self && (
                <>
                  <button
                    type="button"
                    onClick={() => onSetAdmin(member, !memberIsAdmin)}
                  >
                    {memberIsAdmin ? 'Revoke admin' : 'Grant admin'}
                    <span className="visually-hidden">
                      {memberIsAdmin ? ' from ' : ' to '}
                      {member}
                    </span>
                  </button>
                  <button type="button" onClick={() => onRemove(member)}>
                    Remove
                  </button>
                </>
              )}
            </li>
          );
        })}
      </ul>
      <button type="button" onClick={onLeave}>
        Leave group
      </button>
    </div>
  );
}

interface RenameFormProps {
  readonly name: string;
  readonly onRename: (name: string) => Promise<boolean>;
}

/** A field holding the group's name and a "Rename" button. */
function RenameForm({ name, onRename }: RenameFormProps) {
  const [value, setValue] = useState(name);
  const [busy, setBusy] = useState(false);
  const inputId = useId();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const trimmed = value.trim();
    if (busy || trimmed === '' || trimmed === name) return;
    setBusy(true);
    try {
      await onRename(trimmed);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form noValidate onSubmit={submit}>
      <label htmlFor={inputId}>Rename group</label>
      <div className="row">
        <input
          id={inputId}
          name="group-name"
          autoComplete="off"
          value={value}
          onChange={(event) => setValue(event.target.value)}
        />
        <button type="submit" disabled={busy}>
          Rename
        </button>
      </div>
    </form>
  );
}
