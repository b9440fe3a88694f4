import type { authTypes } from "@filemesh/contracts";
import type { AccountRow } from "../store/accounts.js";

export function toAccount(row: AccountRow): authTypes.Account {
  return {
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    createTime: row.createTime,
    disabled: row.disableTime !== null,
    admin: row.admin,
  };
}
