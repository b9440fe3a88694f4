export function devSecrets(root: string): { JWT_KEYS_DIR: string; PASSWORD_PEPPER: string };
export function ensureDatabase(url: string): Promise<void>;
