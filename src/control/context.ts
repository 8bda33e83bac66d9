// Who is calling: the identity behind a validated token, and the request id that the
// instance actions and logs carry.
export interface RequestContext {
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  roles: string[];
  isAdmin: boolean;
  requestId: string;
}

export function isReader(ctx: RequestContext): boolean {
  return !ctx.isAdmin && !ctx.roles.includes('member') && ctx.roles.includes('reader');
}
