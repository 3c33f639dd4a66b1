import { type StorageProblem, storageProblemText } from '../app/storage-check';

export interface StorageProblemMessageProps {
  readonly problem: StorageProblem;
}

/** Shows, in place of the app, why storage cannot work and what to do. */
export function StorageProblemMessage({ problem }: StorageProblemMessageProps) {
  const { title, advice } = storageProblemText(problem);
  return (
    <main className="centered">
      <section role="alert" aria-labelledby="storage-problem-title">
        <h2 id="storage-problem-title">{title}</h2>
        <p>{advice}</p>
        {problem === 'version-changed' && (
          <button type="button" onClick={() => location.reload()}>
            Reload page
          </button>
        )}
      </section>
    </main>
  );
}
