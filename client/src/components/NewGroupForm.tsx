import { type FormEvent, useId, useState } from 'react';

export interface NewGroupFormProps {
  /** Resolves to true when the group was created, so the form can close. */
  readonly onCreate: (name: string) => Promise<boolean>;
}

/** A "New group" button that opens a form for the group's name. */
export function NewGroupForm({ onCreate }: NewGroupFormProps) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const inputId = useId();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || name.trim() === '') return;
    setBusy(true);
    try {
      if (await onCreate(name)) {
        setName('');
        setOpen(false);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="new-group">
      <button
        type="button"
        aria-expanded={open}
        onClick={() => setOpen((shown) => !shown)}
      >
        New group
      </button>
      {open && (
        <form noValidate onSubmit={submit}>
          <label htmlFor={inputId}>Group name</label>
          <div className="row">
            <input
              id={inputId}
              name="group-name"
              autoComplete="off"
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
            <button type="submit" disabled={busy}>
              Create group
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
