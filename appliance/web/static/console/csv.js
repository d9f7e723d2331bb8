// CSV in and out for the sentiment page (RFC 4180: quoted fields, doubled quotes, newlines
// inside quotes).

export function parseCsv(content) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < content.length; i++) {
    const c = content[i];
    if (quoted) {
      if (c === '"' && content[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"' && field === "") {
      quoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && content[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// The texts of an uploaded file: the "text" column when the first row names one, else one
// text per non-empty line.
export function textsOf(content) {
  const clean = content.replace(/^\uFEFF/, "");
  const rows = parseCsv(clean);
  if (rows.length) {
    const column = rows[0].findIndex((name) => name.trim().toLowerCase() === "text");
    if (column >= 0) {
      return rows
        .slice(1)
        .map((r) => (r[column] || "").trim())
        .filter(Boolean);
    }
  }
  return clean
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

function quote(value) {
  const s = String(value ?? "");
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}
