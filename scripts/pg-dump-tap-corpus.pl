#!/usr/bin/perl
# Extracts the objects of PostgreSQL's pg_dump TAP test (src/bin/pg_dump/t/002_pg_dump.pl)
# into SQL, for the schema corpus of tests/corpus.rs:
#   scripts/pg-dump-tap-corpus.pl 002_pg_dump.pl DATABASE > tests/fixtures/corpus/FILE.sql
# DATABASE is the test database the objects are created in: postgres (nearly all of them),
# regress_pg_dump_test or regress_public_owner.
#
# It does what the test does before its pg_dump runs: evaluates its %tests hash and joins
# every test's create_sql with a ";" in create_order, for the tests of DATABASE. Two things
# differ, both for a fixture that is the same on every run: tests with equal create_order (or
# none, which come last) are ordered by name, where the test takes Perl's hash order (random
# per run; it works in any); and every test is kept, as on a build with collation, ICU and
# LZ4 support (Debian's PostgreSQL 15 has all three). Each test's SQL is preceded by a
# comment naming it.
use strict;
use warnings;

my ($file, $database) = @ARGV;
die "usage: $0 002_pg_dump.pl DATABASE\n" unless $file && $database;
open my $fh, '<', $file or die "$file: $!\n";
my $text = do { local $/; <$fh> };
# From the first run set to the line before the test starts its cluster: the hashes alone.
my ($hashes) = $text =~ /^(my %dump_test_schema_runs = .*?)^my \$node = /ms
  or die "$file: no %tests found\n";
my $tempdir = '/nonexistent';    # named by the hashes, used by no create_sql
my $tests = eval "no strict 'vars'; $hashes; \\%tests" or die "evaluating %tests: $@";

my $order = sub {
	my ($x, $y) = @_;
	my ($ox, $oy) = ($tests->{$x}{create_order}, $tests->{$y}{create_order});
	return ($ox <=> $oy) || ($x cmp $y) if $ox && $oy;
	return -1 if $ox;
	return 1  if $oy;
	return $x cmp $y;
};
for my $name (sort { $order->($a, $b) } keys %$tests)
{
	my $t = $tests->{$name};
	next unless $t->{create_sql};
	next unless ($t->{database} // 'postgres') eq $database;
	(my $label = $name) =~ s/\n/\\n/g;
	print "\n-- test: $label (create_order ", $t->{create_order} // 'none', ")\n";
	print $t->{create_sql}, ";\n";
}
