export { OutboxRelay } from './outbox-relay.js';
