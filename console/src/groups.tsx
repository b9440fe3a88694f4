// Groups (GET/POST /v1/groups): create one, open it to see its direct members, add a person (by
// exact email) or another group (nesting: its members count as this group's), remove a member,
// delete the group. Grants to a group reach everyone in it and in the groups nested in it.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { Icon } from "./icons.tsx";

export function Groups(props: { onError: (e: unknown) => void }) {
  const [groups, setGroups] = useState<api.Group[]>([]);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [open, setOpen] = useState<api.Group | null>(null);

  const load = () => api.listGroups().then((r) => setGroups(r.groups ?? []), props.onError);
  useEffect(() => {
    load();
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const g = await api.createGroup(name.trim(), description.trim());
      setName("");
      setDescription("");
      await load();
      setOpen(g);
    } catch (err) {
      props.onError(err);
    }
  };

  return (
    <section aria-label="Groups" class="page">
      <h2>Groups</h2>
      <form class="inline" onSubmit={create}>
        <input
          aria-label="New group name"
          placeholder="Group name"
          required
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <input
          aria-label="New group description"
          placeholder="Description (optional)"
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <button type="submit" class="primary">
          Create group
        </button>
      </form>
      <div class="split">
        <ul class="cards group-list">
          {groups.map((g) => (
            <li key={g.id} data-group={g.name} class={open?.id === g.id ? "selected" : ""}>
              <button
                type="button"
                class="link"
                aria-label={`Open group ${g.name}`}
                onClick={() => setOpen(g)}
              >
                <Icon name="group" /> {g.name}
              </button>
              {g.myRole && <span class="badge">{g.myRole}</span>}
            </li>
          ))}
          {groups.length === 0 && <li class="note">You are in no group yet.</li>}
        </ul>
        {open && (
          <Members
            key={open.id}
            group={open}
            groups={groups}
            onError={props.onError}
            onDeleted={() => {
              setOpen(null);
              load();
            }}
          />
        )}
      </div>
    </section>
  );
}

function Members(props: {
  group: api.Group;
  groups: api.Group[];
  onError: (e: unknown) => void;
  onDeleted: () => void;
}) {
  const g = props.group;
  const [members, setMembers] = useState<api.GroupMember[]>([]);
  const [kind, setKind] = useState<"user" | "group">("user");
  const [email, setEmail] = useState("");
  const others = props.groups.filter((x) => x.id !== g.id);
  const [sub, setSub] = useState(others[0]?.id ?? "");
  const [role, setRole] = useState("member");

  const load = () => api.listMembers(g.id).then((r) => setMembers(r.members ?? []), props.onError);
  useEffect(() => {
    load();
  }, [g.id]);

  const groupName = (m: string) => props.groups.find((x) => `group:${x.id}` === m)?.name;
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      const member = kind === "user" ? `user:${(await api.lookupUser(email.trim())).id}` : `group:${sub}`;
      await api.addMember(g.id, member, role);
      setEmail("");
      await load();
    } catch (err) {
      props.onError(err);
    }
  };

  return (
    <section class="members" aria-label={`Members of ${g.name}`}>
      <h3>{g.name}</h3>
      {g.description && <p class="note">{g.description}</p>}
      <ul class="cards">
        {members.map((m) => {
          const isGroup = m.member.startsWith("group:");
          const label = isGroup
            ? `group ${groupName(m.member) ?? m.displayName ?? m.member}`
            : m.displayName || m.member;
          return (
            <li key={m.member} data-member={m.member}>
              <span class="with-icon member-name">
                {isGroup && <Icon name="group" />}
                {label}
              </span>
              <span class="badge">{m.role}</span>
              <button
                type="button"
                aria-label={`Remove ${label} from ${g.name}`}
                onClick={() => api.removeMember(g.id, m.member).then(load, props.onError)}
              >
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      <form class="share-form" onSubmit={add}>
        <label>
          Add
          <select value={kind} onChange={(e) => setKind(e.currentTarget.value as "user" | "group")}>
            <option value="user">a person (email)</option>
            <option value="group">a group (nested)</option>
          </select>
        </label>
        {kind === "user" ? (
          <label>
            Email
            <input
              type="email"
              required
              aria-label="Member email"
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </label>
        ) : (
          <label>
            Group
            <select aria-label="Nested group" value={sub} onChange={(e) => setSub(e.currentTarget.value)}>
              {others.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Role
          <select aria-label="Member role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="member">member</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" class="primary" disabled={kind === "group" && !sub}>
          Add member
        </button>
      </form>
      <button
        type="button"
        class="danger"
        onClick={() => api.deleteGroup(g.id).then(props.onDeleted, props.onError)}
      >
        Delete group
      </button>
    </section>
  );
}
