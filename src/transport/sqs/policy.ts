/** The queue's access policy document, as AddPermission/RemovePermission edit it. */
export interface PolicyStatement {
  Sid?: string;
  [k: string]: unknown;
}

export interface PolicyDocument {
  Version: string;
  Id?: string;
  Statement: PolicyStatement[];
}

export function readPolicy(raw: string | undefined): PolicyDocument {
  if (raw === undefined || raw === '') return { Version: '2012-10-17', Statement: [] };
  const doc = JSON.parse(raw) as Partial<PolicyDocument>;
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement as PolicyStatement];
  return { ...doc, Version: doc.Version ?? '2012-10-17', Statement: statements };
}

export function writePolicy(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}
