import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { HttpError } from './api.js';

/** In-app link: history navigation without a reload; a normal link for new tabs and without JavaScript. */
export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={props.href}
      class={props.class}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

export function navigate(href: string): void {
  history.pushState(null, '', href);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** An API error as a message that says what to do (403 names the roles that may). */
export function ErrorNote(props: { error: HttpError; what?: string }) {
  const { error } = props;
  const title = error.status === 403 ? 'Not allowed' : error.status === 404 ? 'Not found' : error.status === 0 ? 'Connection problem' : 'Something went wrong';
  return (
    <div class="note note-bad" role="alert">
      <strong>{title}{props.what ? ` — ${props.what}` : ''}:</strong> {error.message}
    </div>
  );
}

/**
 * A button that asks first: a modal dialog (focus moves into it, Escape cancels) whose confirmation runs `action`.
 */
export function ConfirmButton(props: { label: string; title: string; body: string; confirmLabel: string; danger?: boolean; primary?: boolean; disabled?: boolean; action: () => Promise<void> }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const d = dialog.current;
    const onClose = () => setError(undefined);
    d?.addEventListener('close', onClose);
    return () => d?.removeEventListener('close', onClose);
  }, []);
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.action();
      dialog.current?.close();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={props.danger ? 'danger' : props.primary ? 'primary' : undefined} disabled={props.disabled} onClick={() => dialog.current?.showModal()}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={`${props.label}-title`.replace(/\W+/g, '-')}>
        <h2 id={`${props.label}-title`.replace(/\W+/g, '-')}>{props.title}</h2>
        <p>{props.body}</p>
        {error && (
          <p class="note note-bad" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class={props.danger ? 'danger' : 'primary'} disabled={busy} onClick={() => void confirm()}>
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function roleList(roles: string[] | undefined): string {
  if (!roles || roles.length === 0) return 'a role that allows it';
  return roles.length > 1 ? `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}` : roles[0]!;
}
