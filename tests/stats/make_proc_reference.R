# Reference numbers from R's pROC for eusgist.stats (DeLong AUC CI, paired and unpaired
# DeLong tests). Needs only r-base-core and r-cran-proc (no JSON package: JSON is written
# by hand with 17 significant digits).
#
# Regenerate the committed fixtures (run from the repository root):
#   Rscript tests/stats/make_proc_reference.R
# writes tests/stats/data/asah.csv, proc_cases.csv and proc_reference.json.
#
# Compute references for other data (used by the live test):
#   Rscript tests/stats/make_proc_reference.R CASES.csv OUT.json
# CASES.csv columns: case, sample (1 or 2), y (0/1), a, b. Sample 1 gives the AUCs of a and
# b and their paired test; when a case has sample-2 rows, a in sample 1 is also compared
# with a in sample 2 by the unpaired test. Higher score = positive (direction "<").

suppressPackageStartupMessages(library(pROC))

num <- function(x) {
  if (is.na(x)) return("null")
  if (is.infinite(x)) return(if (x > 0) "1e999" else "-1e999")
  sprintf("%.17g", x)
}
obj <- function(...) {
  kv <- list(...)
  paste0("{", paste(sprintf('"%s": %s', names(kv), unlist(kv)), collapse = ", "), "}")
}
arr <- function(x) paste0("[", paste(vapply(x, num, ""), collapse = ", "), "]")

rocd <- function(y, s) roc(y, s, levels = c(0, 1), direction = "<", quiet = TRUE)

one_auc <- function(r) {
  obj(auc = num(as.numeric(auc(r))),
      se = num(sqrt(var(r, method = "delong"))),
      ci95 = arr(as.numeric(ci.auc(r, method = "delong", conf.level = 0.95))[c(1, 3)]),
      ci90 = arr(as.numeric(ci.auc(r, method = "delong", conf.level = 0.90))[c(1, 3)]))
}

one_case <- function(d) {
  s1 <- d[d$sample == 1, ]
  ra <- rocd(s1$y, s1$a)
  rb <- rocd(s1$y, s1$b)
  t95 <- roc.test(ra, rb, method = "delong", paired = TRUE, conf.level = 0.95)
  t90 <- roc.test(ra, rb, method = "delong", paired = TRUE, conf.level = 0.90)
  parts <- list(
    case = sprintf('"%s"', d$case[1]),
    a = one_auc(ra), b = one_auc(rb),
    paired = obj(z = num(unname(t95$statistic)), p_value = num(t95$p.value),
                 ci95 = arr(as.numeric(t95$conf.int)), ci90 = arr(as.numeric(t90$conf.int))))
  s2 <- d[d$sample == 2, ]
  if (nrow(s2) > 0) {
    u <- roc.test(ra, rocd(s2$y, s2$a), method = "delong", paired = FALSE)
    parts$unpaired <- obj(t = num(unname(u$statistic)), df = num(unname(u$parameter)),
                          p_value = num(u$p.value))
  }
  do.call(obj, parts)
}

reference_json <- function(cases) {
  blocks <- vapply(split(cases, factor(cases$case, levels = unique(cases$case))), one_case, "")
  paste0('{"pROC_version": "', as.character(packageVersion("pROC")), '",\n "cases": [\n  ',
         paste(blocks, collapse = ",\n  "), "\n]}\n")
}

fixture_cases <- function() {
  data(aSAH, package = "pROC", envir = environment())
  y <- as.integer(aSAH$outcome == "Poor")
  wfns <- as.numeric(aSAH$wfns)  # ordered factor 1..5: heavy ties
  male <- aSAH$gender == "Male"
  set.seed(20240601)
  n <- 80
  yr <- rbinom(n, 1, 0.4)
  cases <- rbind(
    data.frame(case = "aSAH s100b vs wfns", sample = 1, y = y, a = aSAH$s100b, b = wfns),
    data.frame(case = "aSAH ndka vs s100b", sample = 1, y = y, a = aSAH$ndka, b = aSAH$s100b),
    data.frame(case = "aSAH s100b men vs women", sample = ifelse(male, 1, 2), y = y,
               a = aSAH$s100b, b = aSAH$ndka),
    data.frame(case = "integer ties", sample = rep(1:2, each = n / 2), y = yr,
               a = round(yr + rnorm(n)), b = pmin(pmax(round(2 * yr + rnorm(n, 0, 2)), -2), 3)),
    data.frame(case = "continuous", sample = rep(1:2, length.out = n), y = yr,
               a = yr * 0.8 + rnorm(n), b = yr * 0.3 + rnorm(n)),
    data.frame(case = "perfect a", sample = 1, y = c(0, 0, 0, 1, 1, 1),
               a = c(0.1, 0.2, 0.3, 0.4, 0.5, 0.6), b = c(0.1, 0.5, 0.3, 0.4, 0.2, 0.6))
  )
  list(asah = data.frame(outcome = y, gender = aSAH$gender, age = aSAH$age, wfns = wfns,
                         s100b = aSAH$s100b, ndka = aSAH$ndka),
       cases = cases)
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) == 2) {
  cases <- read.csv(args[1], stringsAsFactors = FALSE)
  writeLines(reference_json(cases), args[2], sep = "")
} else if (length(args) == 0) {
  out <- file.path("tests", "stats", "data")
  fx <- fixture_cases()
  write.csv(fx$asah, file.path(out, "asah.csv"), row.names = FALSE)
  write.csv(fx$cases, file.path(out, "proc_cases.csv"), row.names = FALSE)
  writeLines(reference_json(fx$cases), file.path(out, "proc_reference.json"), sep = "")
} else {
  stop("usage: Rscript make_proc_reference.R [CASES.csv OUT.json]")
}
