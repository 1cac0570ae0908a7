/**
 * The AWS query protocol as SQS serves it (Smithy "AWS query protocol"; SQS API Reference, "Making
 * Query API requests" and each action's sample responses): form-encoded parameters
 * (`Action=SendMessage&QueueUrl=…&MessageAttribute.1.Name=…`) in a POST body or a GET query string;
 * XML responses `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`; errors as
 * `<ErrorResponse><Error><Type/><Code/><Message/><Detail/></Error><RequestId/></ErrorResponse>`.
 *
 * The form is turned into the JSON input shape the actions take, and their JSON-shaped output
 * into XML, following the model's xmlName/xmlFlattened traits: lists and maps are flattened
 * (`QueueUrl` repeated; `Attribute` with `Name`/`Value`; `Tag` with `Key`/`Value`).
 */
import type { HttpReply } from '../http-request.js';
import type { Output } from './action.js';
import { SqsError } from './errors.js';
import type { Input } from './input.js';

export const XML_NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** Flattened lists of strings: form member → input member. */
const STRING_LISTS: Record<string, string> = {
  AttributeName: 'AttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  TagKey: 'TagKeys',
  AWSAccountId: 'AWSAccountIds',
  ActionName: 'Actions',
};

/** Flattened maps: form member → [input member, key name, value name]. */
const MAPS: Record<string, [string, string, string]> = {
  Attribute: ['Attributes', 'Name', 'Value'],
  Tag: ['Tags', 'Key', 'Value'],
  MessageAttribute: ['MessageAttributes', 'Name', 'Value'],
  MessageSystemAttribute: ['MessageSystemAttributes', 'Name', 'Value'],
};

/** Flattened lists of structures (batch entries). */
const ENTRY_LISTS = new Set(['SendMessageBatchRequestEntry', 'DeleteMessageBatchRequestEntry', 'ChangeMessageVisibilityBatchRequestEntry']);

type Tree = { [k: string]: Tree | string };

function insert(tree: Tree, path: string[], value: string): void {
  let node = tree;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = node[k];
    if (next === undefined || typeof next === 'string') node = node[k] = {};
    else node = next;
  }
  node[path[path.length - 1]!] = value;
}

function numbered(node: Tree | string, member: string): Array<Tree | string> {
  if (typeof node === 'string') throw new SqsError('InvalidQueryParameter', `${member} must be numbered (${member}.1, ${member}.2, …).`);
  const keys = Object.keys(node);
  for (const k of keys) if (!/^[1-9]\d*$/.test(k)) throw new SqsError('InvalidQueryParameter', `${member}.${k} is not a numbered member.`);
  return keys.sort((a, b) => Number(a) - Number(b)).map((k) => node[k]!);
}

function structure(node: Tree | string, member: string): Input {
  if (typeof node === 'string') throw new SqsError('InvalidQueryParameter', `${member} must be a structure.`);
  const out: Input = {};
  for (const [k, v] of Object.entries(node)) out[k] = typeof v === 'string' ? v : structure(v, `${member}.${k}`);
  return out;
}

function convert(tree: Tree, action: string): Input {
  const out: Input = {};
  for (const [key, node] of Object.entries(tree)) {
    const list = STRING_LISTS[key];
    const map = MAPS[key];
    if (list !== undefined) {
      out[list] = numbered(node, key).map((v) => {
        if (typeof v !== 'string') throw new SqsError('InvalidQueryParameter', `${key}.N must be a value.`);
        return v;
      });
    } else if (map !== undefined) {
      const [member, keyName, valueName] = map;
      const m: Input = {};
      for (const entry of numbered(node, key)) {
        if (typeof entry === 'string') throw new SqsError('InvalidQueryParameter', `${key}.N must have ${keyName} and ${valueName}.`);
        const k = entry[keyName];
        if (typeof k !== 'string') throw new SqsError('MissingParameter', `The request must contain the parameter ${key}.N.${keyName}.`);
        const v = entry[valueName];
        m[k] = v === undefined ? '' : typeof v === 'string' ? v : structure(v, `${key}.N.${valueName}`);
      }
      // CreateQueue's tag map is the JSON member `tags`; TagQueue's is `Tags` (the model's names).
      out[key === 'Tag' && action === 'CreateQueue' ? 'tags' : member] = m;
    } else if (ENTRY_LISTS.has(key)) {
      out.Entries = numbered(node, key).map((e) => {
        if (typeof e === 'string') throw new SqsError('InvalidQueryParameter', `${key}.N must be a structure.`);
        return convert(e, action);
      });
    } else if (typeof node === 'string') {
      out[key] = node;
    } else {
      throw new SqsError('InvalidQueryParameter', `Unknown structured parameter ${key}.`);
    }
  }
  return out;
}

/** The action name and its input from the form's parameters. */
export function parseQueryInput(params: Array<[string, string]>): { action: string; input: Input } {
  const tree: Tree = {};
  let action: string | undefined;
  for (const [k, v] of params) {
    if (k === 'Action') action = v;
    else if (k === 'Version' || k.startsWith('X-Amz-') || k === 'AWSAccessKeyId' || k === 'Signature' || k === 'SignatureMethod' || k === 'SignatureVersion' || k === 'Timestamp' || k === 'Expires') continue;
    else insert(tree, k.split('.'), v);
  }
  if (action === undefined || action === '') throw new SqsError('MissingAction', 'The request must contain the parameter Action.');
  return { action, input: convert(tree, action) };
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#xD;' })[c]!);
}

/** Element names of output lists, by member (and, for batch results, by action). */
function listItemName(member: string, action: string): string {
  switch (member) {
    case 'QueueUrls':
    case 'queueUrls':
      return 'QueueUrl';
    case 'Messages':
      return 'Message';
    case 'Successful':
      return `${action}ResultEntry`;
    case 'Failed':
      return 'BatchResultErrorEntry';
    case 'Results':
      return 'ListMessageMoveTasksResultEntry';
    default:
      return member;
  }
}

const OUTPUT_MAPS: Record<string, [string, string, string]> = {
  Attributes: ['Attribute', 'Name', 'Value'],
  Tags: ['Tag', 'Key', 'Value'],
  MessageAttributes: ['MessageAttribute', 'Name', 'Value'],
};

function element(name: string, value: unknown, action: string): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    const item = listItemName(name, action);
    return value.map((v) => element(item, v, action)).join('');
  }
  if (typeof value === 'object') {
    const map = OUTPUT_MAPS[name];
    if (map !== undefined) {
      const [entry, keyName, valueName] = map;
      return Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `<${entry}><${keyName}>${escapeXml(k)}</${keyName}>${element(valueName, v, action)}</${entry}>`)
        .join('');
    }
    return `<${name}>${Object.entries(value as Record<string, unknown>).map(([k, v]) => element(k, v, action)).join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function xmlReply(status: number, body: string, requestId: string): HttpReply {
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: `<?xml version="1.0"?>${body}` };
}

export function queryReply(action: string, output: Output, requestId: string): HttpReply {
  const result = output === undefined ? '' : element(`${action}Result`, output, action) || `<${action}Result/>`;
  const meta = `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>`;
  return xmlReply(200, `<${action}Response xmlns="${XML_NAMESPACE}">${result}${meta}</${action}Response>`, requestId);
}

export function queryError(err: SqsError, requestId: string): HttpReply {
  const body = `<ErrorResponse xmlns="${XML_NAMESPACE}"><Error><Type>${err.fault}</Type><Code>${escapeXml(err.queryCode)}</Code>`
    + `<Message>${escapeXml(err.message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return xmlReply(err.status, body, requestId);
}
