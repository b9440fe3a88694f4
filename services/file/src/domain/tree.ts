// Rules of the tree that every way of adding an item shares (create folder, upload commit, copy,
// move, restore): the target folder is locked and still a live folder, and one live name per
// folder (the unique index files_live_name_key) is answered as ALREADY_EXISTS NAME_CONFLICT.
import { alreadyExists, isUniqueViolation } from "@filemesh/kit";
import { type FileRow, getFile, KIND } from "../store/files.js";
import { FILE_NOT_FOUND, NOT_A_FOLDER } from "./access.js";

export const nameConflict = () =>
  alreadyExists("NAME_CONFLICT", "an item with this name already exists in the folder");

/** Runs `fn`, turning a duplicate live name in one folder into ALREADY_EXISTS NAME_CONFLICT. */
export async function uniqueName<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err, "files_live_name_key")) throw nameConflict();
    throw err;
  }
}

/** Locks a folder for adding children; it must still be live. */
export async function lockFolder(tx: Parameters<typeof getFile>[0], id: string): Promise<FileRow> {
  const folder = await getFile(tx, id, true);
  if (!folder || folder.trash_time) throw FILE_NOT_FOUND();
  if (folder.kind !== KIND.FOLDER) throw NOT_A_FOLDER();
  return folder;
}
