/**
 * A build this provisioner refuses to run, and that cannot succeed until someone changes something: a container or
 * volume of the workspace's name that it did not label, a parameter value that breaks its declaration, resources
 * above the operator's ceiling. Reported as build-failed with this message, not retryable.
 */
export class BuildRefusal extends Error {
  override name = 'BuildRefusal';
}
