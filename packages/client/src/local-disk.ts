import { statfs } from "node:fs/promises";

/**
 * Linux `statfs` magic numbers of file systems on a local block device or in memory. On these, a
 * system call answers in microseconds, and doing it synchronously costs far less than a round trip
 * through libuv's thread pool. On a network file system (NFS, SMB, FUSE mounts of object stores) a
 * call waits for the network: there many calls in flight at once are what keeps a push moving.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x794c7630, // overlayfs (containers)
  0x4d44, // vfat
  0x5346544e, // ntfs
  0x2011bab0, // exfat
]);

/** Whether `dir` is on a local file system (Linux only: elsewhere the answer is no, the safe side). */
export async function onLocalDisk(dir: string): Promise<boolean> {
  if (process.platform !== "linux") return false;
  try {
    return LOCAL_FILE_SYSTEMS.has((await statfs(dir)).type);
  } catch {
    return false;
  }
}
