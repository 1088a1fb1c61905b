/*
 * Parsers for the payloads of single FTP replies. Each takes the reply text
 * as produced by ftp_reply (code removed) and never reads past its NUL.
 * All return 0 on success and -1 on malformed input, leaving outputs
 * untouched on failure.
 */
#ifndef FTPA_FTP_PARSE_H
#define FTPA_FTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 227 "Entering Passive Mode (h1,h2,h3,h4,p1,p2)"; the parenthesis are
 * optional (some servers omit them): the first run of six comma-separated
 * decimal numbers counts. Each number 0..255, port 1..65535. */
int	ftp_parse_pasv(const char *text, uint8_t addr[4], uint16_t *port);
/* 229 "Entering Extended Passive Mode (|||port|)": any delimiter
 * character in 33..126, the same for all four; port 1..65535. */
int	ftp_parse_epsv(const char *text, uint16_t *port);
/* 257 "\"/dir\" is current directory": the quoted path with doubled quotes
 * undoubled. Returns a malloc'd string (caller frees) or NULL for an
 * unclosed quote, no quote, or an empty name. Text before the first quote
 * is skipped. */
char	*ftp_parse_pwd(const char *text);
/* 213 "12345": decimal digits only (leading/trailing spaces allowed),
 * at most INT64_MAX. */
int	ftp_parse_size(const char *text, int64_t *size);
/* 213 "YYYYMMDDHHMMSS[.fff]", UTC; validates ranges; seconds since epoch. */
int	ftp_parse_mdtm(const char *text, int64_t *mtime);
/* A UTC calendar time (seconds 0..60) to seconds since the epoch, without
 * depending on TZ; -1 when no such date or time. */
int	ftp_time_from_parts(int year, int mon, int day, int hour, int min,
	    int sec, int64_t *t);
/* "YYYYMMDDHHMMSS[.fff]" as used in MLSD "modify=" facts. */
int	ftp_parse_time14(const char *s, size_t len, int64_t *mtime);
/* 150 "Opening BINARY mode data connection for x (1234 bytes)": the number
 * before " bytes" in the last parenthesis; -1 when absent. */
int	ftp_parse_150_size(const char *text, int64_t *size);

/* FEAT reply (211): one feature per line after the first, leading space
 * removed, upper-cased keyword kept with its parameters ("MLST type*;size*;",
 * "REST STREAM", "UTF8"). The closing line ("End") is not a feature.
 * Returns the number of features stored in a NULL-terminated malloc'd array
 * of malloc'd strings (*out; free with ftp_feat_free), or -1. */
int	ftp_parse_feat(const char *text, char ***out);
void	ftp_feat_free(char **);
/* True when a FEAT list has the keyword (case-insensitive, first word). */
bool	ftp_feat_has(char *const *feat, const char *keyword);

#endif
