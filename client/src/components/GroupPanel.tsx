import { type FormEvent, useId, useState } from 'react';

export interface GroupPanelProps {
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
  readonly onLeave: () => void;
}

/**
 * The members of a group as the signed membership log states them, with
 * the changes an admin may make and the way out.
 */
export function GroupPanel({
  members,
  admins,
  self,
  isMember,
  isAdmin,
  onAdd,
  onRemove,
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
      )}
      <ul aria-label="Members">
        {members.map((member) => (
          <li key={member}>
            <span dir="auto">{member}</span>
            {admins.includes(member) && <span className="admin"> (admin)</span>}
            {isAdmin && member !== self && (
              <button type="button" onClick={() => onRemove(member)}>
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      <button type="button" onClick={onLeave}>
        Leave group
      </button>
    </div>
  );
}
