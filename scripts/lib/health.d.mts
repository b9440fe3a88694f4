export function checkHealth(addr: string, service?: string, timeoutMs?: number): Promise<string>;
export function waitServing(
  addr: string,
  opts?: { timeoutMs?: number; service?: string; isAlive?: () => boolean },
): Promise<boolean>;
