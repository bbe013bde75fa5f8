import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { HttpError } from './api.js';

export type Loaded<T> = { data: T | undefined; error: HttpError | undefined; updatedAt: Date | undefined; reload: () => void };

/**
 * Loads at once, then every `everyMs` while the page is visible (live updates without reloading); a hidden tab
 * skips refreshes and catches up as soon as it is shown again.
 */
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
    let loadedOnce = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (!loadedOnce || document.visibilityState !== 'hidden') {
        loadedOnce = true;
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
    const onShown = () => {
      if (document.visibilityState === 'visible' && timer) void run();
    };
    document.addEventListener('visibilitychange', onShown);
    void run();
    return () => {
      stopped = true;
      document.removeEventListener('visibilitychange', onShown);
      if (timer) clearTimeout(timer);
    };
  }, [key, everyMs, tick]);
  return { data: state.data, error: state.error, updatedAt: state.updatedAt, reload };
}
