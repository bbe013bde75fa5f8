/** The reserved system user that owns every prebuild (seeded by migration 001). */
export const SYSTEM_USER_ID = '00000000-0000-0000-0000-000000000001';
