//! `--token-auth-file`: static bearer tokens in kube-apiserver's CSV format
//! `token,user,uid,"group1,group2"` (at least three columns; groups optional).

use std::collections::HashMap;
use std::path::Path;

use crate::AuthError;
use crate::user::UserInfo;

/// Tokens and the users they stand for.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFile {
    /// Reads and parses a token file.
    pub fn read(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::File {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|m| AuthError::TokenFile {
            path: path.to_owned(),
            message: m,
        })
    }

    /// Parses token file content. Blank lines are skipped, an empty token is skipped (as
    /// kube-apiserver does, with a warning), a later duplicate replaces an earlier one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = HashMap::new();
        for (n, record) in parse_csv(text)?.into_iter().enumerate() {
            if record.len() < 3 {
                return Err(format!(
                    "record {}: must have at least 3 columns (token, user name, user uid), found {}",
                    n + 1,
                    record.len()
                ));
            }
            if record[0].is_empty() {
                tracing::warn!(record = n + 1, "empty token in token file");
                continue;
            }
            let groups = match record.get(3) {
                Some(g) => g.split(',').map(str::to_owned).collect(),
                None => Vec::new(),
            };
            let user = UserInfo {
                name: record[1].clone(),
                uid: record[2].clone(),
                groups,
                extra: Default::default(),
            };
            if tokens.insert(record[0].clone(), user).is_some() {
                tracing::warn!(record = n + 1, "duplicate token in token file");
            }
        }
        Ok(TokenFile { tokens })
    }

    /// The user `token` stands for.
    pub fn lookup(&self, token: &str) -> Option<&UserInfo> {
        self.tokens.get(token)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the file holds no token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// RFC 4180 records as Go's `encoding/csv` reads them (variable field counts, quoted fields
/// with `""` escapes and embedded newlines, blank lines skipped, no comment lines).
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        // Skip blank lines.
        if matches!(chars.peek(), Some('\n' | '\r')) {
            if chars.next() == Some('\n') {
                line += 1;
            }
            continue;
        }
        let mut record = Vec::new();
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                        None => {
                            return Err(format!(
                                "line {line}: extraneous or missing \" in quoted-field"
                            ));
                        }
                    }
                }
                if !matches!(chars.peek(), None | Some(',' | '\n' | '\r')) {
                    return Err(format!(
                        "line {line}: extraneous or missing \" in quoted-field"
                    ));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if matches!(c, ',' | '\n' | '\r') {
                        break;
                    }
                    if c == '"' {
                        return Err(format!("line {line}: bare \" in non-quoted-field"));
                    }
                    field.push(c);
                    chars.next();
                }
            }
            record.push(field);
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_apiserver_format_parses() {
        let f = TokenFile::parse(
            "admin-token,admin,uid-1,\"system:masters,devs\"\r\n\nviewer-token,viewer,uid-2\nsolo,solo,3,single\n",
        )
        .unwrap();
        assert_eq!(f.len(), 3);
        let admin = f.lookup("admin-token").unwrap();
        assert_eq!(
            (admin.name.as_str(), admin.uid.as_str()),
            ("admin", "uid-1")
        );
        assert_eq!(admin.groups, ["system:masters", "devs"]);
        assert!(f.lookup("viewer-token").unwrap().groups.is_empty());
        assert_eq!(f.lookup("solo").unwrap().groups, ["single"]);
        assert!(f.lookup("nope").is_none());
    }

    #[test]
    fn quotes_escape_and_duplicates_replace() {
        let f = TokenFile::parse("t,\"a \"\"quoted\"\" user\",u\nt,later,u2\n").unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f.lookup("t").unwrap().name, "later");
        let q = TokenFile::parse("t,\"a \"\"b\"\"\",u").unwrap();
        assert_eq!(q.lookup("t").unwrap().name, "a \"b\"");
    }

    #[test]
    fn empty_tokens_are_skipped() {
        let f = TokenFile::parse(",nobody,0\nt,user,1\n").unwrap();
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn short_records_and_bad_quotes_are_errors() {
        assert!(
            TokenFile::parse("token,user\n")
                .unwrap_err()
                .contains("at least 3 columns")
        );
        assert!(TokenFile::parse("t,u\"x,1\n").is_err());
        assert!(TokenFile::parse("t,\"unterminated,1\n").is_err());
    }
}
