/**
 * Gateways by id, process-wide. A session end node that has no sessions config of its own
 * finds the gateway that opened a turn through `msg.session.configId`.
 */
import type { Gateway } from './gateway';

const gateways = new Map<string, Gateway>();

/** Make `gateway` findable under its id (a newer gateway with the same id replaces it). */
export function registerGateway(gateway: Gateway): void {
  gateways.set(gateway.id, gateway);
}

/** Forget `gateway`, unless a newer one has taken its id meanwhile. */
export function unregisterGateway(gateway: Gateway): void {
  if (gateways.get(gateway.id) === gateway) gateways.delete(gateway.id);
}

export function findGateway(id: string): Gateway | undefined {
  return gateways.get(id);
}
