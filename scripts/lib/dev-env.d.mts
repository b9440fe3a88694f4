export function devSecrets(root: string): {
  JWT_KEYS_DIR: string;
  PASSWORD_PEPPER: string;
  INTERNAL_TOKEN: string;
};
export function ensureDatabase(url: string): Promise<void>;
