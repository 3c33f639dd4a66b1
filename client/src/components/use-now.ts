import { useEffect, useState } from 'react';

/**
 * Returns the current time in ms, refreshed every `intervalMs`, so that
 * "today" in formatted times moves on at midnight.
 */
export function useNow(intervalMs = 60_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
