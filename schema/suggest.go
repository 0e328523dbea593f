package schema

import (
	"strings"
	"unicode/utf8"
)

// suggest returns the candidate closest to word: one equal to it ignoring
// case, or else the one at the smallest edit distance (insertions,
// deletions, substitutions and transpositions of adjacent characters), if
// that distance is at most 2 and smaller than the candidate's length. It
// returns "" when no candidate is close.
func suggest(word string, candidates []string) string {
	for _, c := range candidates {
		if c != word && strings.EqualFold(c, word) {
			return c
		}
	}
	best, bestD := "", 3
	for _, c := range candidates {
		if c == word {
			continue
		}
		d := editDistance(word, c, bestD)
		if d < bestD && d < utf8.RuneCountInString(c) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean returns "; did you mean X?" for the closest candidate, or "".
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

// editDistance returns the optimal string alignment distance between a and
// b, or limit when it is limit or more.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return limit
	}
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(rb)], limit)
}
