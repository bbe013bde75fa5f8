import { runService } from '@warmpool/service';
import { notifierPoolSize, startNotifier } from './index.js';
import { checkSmtp } from './mailer.js';

// `node services/notifier`: migrate (safe concurrently), then consume notification events until SIGTERM/SIGINT.
await runService('notifier', async ({ config, logger, healthPort, database }) => {
  const pool = await database(notifierPoolSize(config));
  const notifier = await startNotifier({ config, logger, pool, healthPort });
  if (!config.webhookUrl) logger.warn('WARMPOOL_WEBHOOK_URL is not set: organizations without their own webhook URL get inbox notifications only');
  if (config.webhookSecrets.length === 0) logger.warn('WARMPOOL_WEBHOOK_SECRET is not set: deliveries to organizations without their own secret are skipped');
  logger.info({ concurrency: config.workerConcurrency, queuePrefix: config.queuePrefix, email: config.smtp !== undefined }, 'notifier started');
  // An unreachable mail server is reported now rather than at the first notice; e-mails are still queued and retried.
  if (config.smtp) {
    const { host, port, tls } = config.smtp;
    void checkSmtp(config.smtp).then((problem) =>
      problem ? logger.warn({ host, port, tls, problem }, 'SMTP server check failed; e-mails will be retried') : logger.info({ host, port, tls }, 'SMTP server reachable'),
    );
  }
  return notifier;
});
