// Types for mesh.mjs, for the TypeScript tests that check against it (test/deploy/chart.test.ts).
export const SERVICES: Record<"auth" | "user" | "permission" | "file" | "processor", number>;
export const GATEWAY_PORT: number;
export const FILE_HTTP_PORT: number;
export const NODE_ARGS: Partial<Record<keyof typeof SERVICES, string[]>>;
export function addrsFor(service: keyof typeof SERVICES, replicas: number, host?: string): string[];
export function createMesh(options: Record<string, unknown>): unknown;
