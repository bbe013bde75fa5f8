/** Which channels a recorded notification event goes out on, from the recipients' choices and the site-wide switch. */

export type SendChannel = 'email' | 'chat';

/** A recipient's choices for the event's kind (the inbox keeps the notice regardless). */
export type ChannelChoices = { emailOff: boolean; webhookOff: boolean };

/** An inbox row created for the event now (a recipient that had not been sent the identical message today). */
export type NewRecipientRow = { notificationId: string; userId: string; email: string | null };

export type PlannedSend = { channel: SendChannel; notificationId: string | null; target: string | null; skip: string | null };

export type NotificationPlanInput<R extends NewRecipientRow> = {
  /** An owner switched this kind off site-wide. */
  siteDisabled: boolean;
  rows: readonly R[];
  choices: ReadonlyMap<string, ChannelChoices>;
  /** Webhook URL (organization's, else global), or null. */
  url: string | null;
  /** SMTP is configured. */
  email: boolean;
  chatUrl: string | null;
};

export type NotificationPlan<R> = {
  /** The rows the webhook body carries (recipients who did not turn webhooks off). */
  webhookRows: R[];
  /** Why the webhook is not posted; null = post it. */
  webhookSkip: string | null;
  /** One e-mail per new row (when SMTP is configured) and one chat post, each with the reason it is skipped, if any. */
  sends: PlannedSend[];
};

const SITE_DISABLED = 'kind disabled site-wide by an owner';
const NONE_NEW = 'no new recipients (identical message already sent today)';

/** The preference rule, in order: the site-wide switch, nothing new to say, each recipient's opt-outs, a missing target. */
export function planNotification<R extends NewRecipientRow>(input: NotificationPlanInput<R>): NotificationPlan<R> {
  const { rows, choices } = input;
  const siteDisabled = input.siteDisabled ? SITE_DISABLED : null;
  const noneNew = rows.length === 0 ? NONE_NEW : null;
  const webhookRows = rows.filter((r) => !choices.get(r.userId)?.webhookOff);
  const webhookSkip =
    siteDisabled ?? noneNew ?? (webhookRows.length === 0 ? 'every recipient turned webhooks off for this kind' : null) ?? (input.url === null ? 'no webhook URL configured' : null);
  const sends: PlannedSend[] = [];
  if (input.email) {
    for (const row of rows) {
      const skip = siteDisabled ?? (choices.get(row.userId)?.emailOff ? 'e-mail turned off by the recipient for this kind' : row.email ? null : 'no e-mail address');
      sends.push({ channel: 'email', notificationId: row.notificationId, target: row.email, skip });
    }
  }
  if (input.chatUrl !== null) sends.push({ channel: 'chat', notificationId: null, target: input.chatUrl, skip: siteDisabled ?? noneNew });
  return { webhookRows, webhookSkip, sends };
}
