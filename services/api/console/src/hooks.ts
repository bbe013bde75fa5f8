import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { HttpError } from './api.js';

export type Loaded<T> = { data: T | undefined; error: HttpError | undefined; updatedAt: Date | undefined; reload: () => void };

/** Loads at once and then every `everyMs` while the page is visible (live updates without reloading). */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: HttpError; updatedAt?: Date }>({});
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    setState({});
  }, [key]);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState !== 'hidden') {
        try {
          const data = await loadRef.current();
          if (!stopped) setState({ data, updatedAt: new Date() });
        } catch (err) {
          const error = err instanceof HttpError ? err : new HttpError(0, 'error', String(err));
          if (!stopped) setState((s) => ({ ...s, error }));
        }
      }
      if (!stopped) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [key, everyMs, tick]);
  return { data: state.data, error: state.error, updatedAt: state.updatedAt, reload };
}
