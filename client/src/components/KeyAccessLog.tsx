import { useEffect, useId, useState } from 'react';
import type { AccessLogEntry } from '../../../shared/wire/schemas';
import { browserTimeFormatter, isoTime } from './format-time';
import { useNow } from './use-now';

export interface KeyAccessLogProps {
  readonly load: () => Promise<AccessLogEntry[] | undefined>;
  readonly onClose: () => void;
}

/**
 * Shows who fetched this account's prekey bundles, and when, as the relay
 * reports it. Every new chat with this account starts with such a fetch.
 */
export function KeyAccessLog({ load, onClose }: KeyAccessLogProps) {
  const [entries, setEntries] = useState<AccessLogEntry[]>();
  // Counts of loads requested and finished. A load runs while they differ.
  const [requests, setRequests] = useState(1);
  const [finished, setFinished] = useState(0);
  const loading = finished < requests;
  const titleId = useId();
  const now = useNow();

  useEffect(() => {
    let current = true;
    void load().then((loaded) => {
      if (!current) return;
      if (loaded) setEntries(loaded);
      setFinished(requests);
    });
    return () => {
      current = false;
    };
  }, [load, requests]);

  return (
    <section className="access-log" aria-labelledby={titleId}>
      <h2 id={titleId}>Key access log</h2>
      <p className="access-log-help">
        Everyone who fetched your keys to start a chat with you, newest first.
        The relay keeps these entries for 30 days, and a relay that lies can
        leave entries out.
      </p>
      {loading && entries === undefined && <p>Loading…</p>}
      {entries?.length === 0 && <p>Nobody fetched your keys in 30 days.</p>}
      {entries !== undefined && entries.length > 0 && (
        <ol className="access-log-list" aria-label="Key fetches">
          {entries.map((entry, index) => (
            <li key={`${entry.fetchedAt}-${index}`}>
              <span dir="auto">{entry.requesterId}</span>{' '}
              <time dateTime={isoTime(entry.fetchedAt)}>
                {browserTimeFormatter.messageTime(entry.fetchedAt, now)}
              </time>
            </li>
          ))}
        </ol>
      )}
      <div className="access-log-actions">
        <button
          type="button"
          disabled={loading}
          onClick={() => setRequests((count) => count + 1)}
        >
          Refresh
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </section>
  );
}
